package state

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"
)

// The record encoding of schema 2. JSON (schema 1) cost a sync of a
// million unchanged files most of its CPU in decoding, and its records
// (with the absolute source path spelled out in each) made the store
// 700 bytes a file, all of it mapped into memory by a full pass. This
// one is a byte string of varints, raw hashes and length-prefixed
// strings, about 80 bytes for a finished file:
//
//	tag       1 byte, recV2
//	status    1 byte (stDone, stUploading, stNone), or stOther + string
//	size      varint
//	mtime     8 bytes little endian (ns: a varint would take 9)
//	ctime     varint, ctime - mtime (0 for a file written and left alone)
//	updated   varint, updated - mtime
//	inode     uvarint
//	dev       uvarint
//	part size varint
//	path      pathNone | pathInline string | pathRoot uvarint(root id) uvarint(n):
//	          the root's string then the last n bytes of the key
//	BLAKE3    hex field (below)
//	ETag      hex field
//	upload id string
//
// A string is a uvarint length and its bytes. A hex field is hexNone,
// hexString + string (kept as written), hexRaw + uvarint length + the
// bytes (for lower-case hex: a BLAKE3 takes 34 bytes instead of 65), or
// hexRawN + the same + uvarint N (a multipart ETag, "hex-N").
//
// Paths: a record names its source file by absolute path, and a store
// holds the files of one or a few source folders, each file's path being
// the folder followed by the end of its key. So the folder ("root") is
// kept once in the roots bucket and each record refers to it by number.
const recV2 = 0x02

const (
	stNone = iota
	stDone
	stUploading
	stOther
)

const (
	pathNone = iota
	pathInline
	pathRoot
)

const (
	hexNone = iota
	hexString
	hexRaw
	hexRawN
)

// maxRoots bounds the roots table: a store fed paths that share nothing
// with their keys stores them inline instead of growing it without end.
const maxRoots = 4096

// splitPath returns the folder of path p that, followed by the last n
// bytes of key, spells p; ok is false when they share no whole trailing
// path element.
func splitPath(p, key string) (root string, n int, ok bool) {
	m := 0
	for m < len(p) && m < len(key) && p[len(p)-1-m] == key[len(key)-1-m] {
		m++
	}
	for n = m; n > 0; n-- {
		if (n == len(key) || key[len(key)-n-1] == '/') && n < len(p) && p[len(p)-n-1] == '/' {
			return p[:len(p)-n], n, true
		}
	}
	return "", 0, false
}

// encodeRecord appends r's encoding to b. rootID returns the id of a
// folder, or false when it is not (and will not be) in the table.
func encodeRecord(b []byte, key string, r *Record, rootID func(string) (uint64, bool)) []byte {
	b = append(b, recV2)
	switch r.Status {
	case "":
		b = append(b, stNone)
	case Done:
		b = append(b, stDone)
	case Uploading:
		b = append(b, stUploading)
	default:
		b = append(b, stOther)
		b = appendString(b, string(r.Status))
	}
	b = binary.AppendVarint(b, r.Size)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.MTime))
	b = binary.AppendVarint(b, r.Ctime-r.MTime)
	b = binary.AppendVarint(b, r.Updated-r.MTime)
	b = binary.AppendUvarint(b, r.Inode)
	b = binary.AppendUvarint(b, r.Dev)
	b = binary.AppendVarint(b, r.PartSize)
	switch root, n, ok := splitPath(r.Path, key); {
	case r.Path == "":
		b = append(b, pathNone)
	case ok:
		if id, ok := rootID(root); ok {
			b = append(b, pathRoot)
			b = binary.AppendUvarint(b, id)
			b = binary.AppendUvarint(b, uint64(n))
			break
		}
		fallthrough
	default:
		b = append(b, pathInline)
		b = appendString(b, r.Path)
	}
	b = appendHex(b, r.BLAKE3)
	b = appendHex(b, r.ETag)
	return appendString(b, r.UploadID)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendHex stores lower-case hex (and "hex-N") as its bytes, anything
// else as written, so that it decodes to the same string.
func appendHex(b []byte, s string) []byte {
	if s == "" {
		return append(b, hexNone)
	}
	h, suffix, hasN := s, "", false
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		h, suffix, hasN = s[:i], s[i+1:], true
	}
	raw, err := hex.DecodeString(h)
	ok := err == nil && len(raw) > 0 && hex.EncodeToString(raw) == h
	var n uint64
	if ok && hasN {
		n, err = strconv.ParseUint(suffix, 10, 64)
		ok = err == nil && strconv.FormatUint(n, 10) == suffix
	}
	if !ok {
		b = append(b, hexString)
		return appendString(b, s)
	}
	if hasN {
		b = append(b, hexRawN)
	} else {
		b = append(b, hexRaw)
	}
	b = binary.AppendUvarint(b, uint64(len(raw)))
	b = append(b, raw...)
	if hasN {
		b = binary.AppendUvarint(b, n)
	}
	return b
}

var errShort = errors.New("record is cut short")

// dec reads an encoded record; the first error sticks. The strings it
// returns are carved from one buffer, arena: a pass over a million
// records would otherwise allocate four or five strings each (the key,
// the path, the hashes in hex). Bytes of the arena are never written
// again once a string holds them (appends only extend it, and a grown
// arena leaves the old one to the strings that hold it), so that the
// strings are as immutable as any.
type dec struct {
	b     []byte
	err   error
	arena []byte
}

// newDec reads v; room is how many more bytes of strings than v's own
// (at most twice its length: hex) to expect.
func newDec(v []byte, room int) dec {
	return dec{b: v, arena: make([]byte, 0, 2*len(v)+room)}
}

// keep returns what was appended to the arena since start, as a string.
func (d *dec) keep(start int) string {
	if len(d.arena) == start {
		return ""
	}
	return unsafe.String(&d.arena[start], len(d.arena)-start)
}

func (d *dec) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.err = errShort
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *dec) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) fixed64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.err = errShort
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *dec) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || uint64(len(d.b)) < n {
		d.err = errShort
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *dec) string() string {
	start := len(d.arena)
	d.arena = append(d.arena, d.bytes()...)
	return d.keep(start)
}

func (d *dec) hex() string {
	start := len(d.arena)
	switch k := d.byte(); k {
	case hexNone:
		return ""
	case hexString:
		return d.string()
	case hexRaw:
		d.arena = hex.AppendEncode(d.arena, d.bytes())
	case hexRawN:
		d.arena = hex.AppendEncode(d.arena, d.bytes())
		d.arena = append(d.arena, '-')
		d.arena = strconv.AppendUint(d.arena, d.uvarint(), 10)
	default:
		if d.err == nil {
			d.err = fmt.Errorf("unknown hex field kind %d", k)
		}
	}
	if d.err != nil {
		return ""
	}
	return d.keep(start)
}

// decodeRecord decodes v, the value stored for key. rootList is the
// roots table by id.
func decodeRecord(v []byte, key string, rootList []string) (Record, error) {
	d := newDec(v, 64)
	return d.record(key, rootList)
}

// decodeEntry decodes a stored key and its value v: the key's string and
// the record's share one allocation.
func decodeEntry(k, v []byte, rootList []string) (string, Record, error) {
	d := newDec(v, len(k)+64)
	d.arena = append(d.arena, k...)
	key := d.keep(0)
	r, err := d.record(key, rootList)
	return key, r, err
}

func (d *dec) record(key string, rootList []string) (Record, error) {
	var r Record
	v := d.b
	if len(v) == 0 || v[0] != recV2 {
		return r, errors.New("not a schema 2 record")
	}
	d.b = v[1:]
	switch st := d.byte(); st {
	case stNone:
	case stDone:
		r.Status = Done
	case stUploading:
		r.Status = Uploading
	case stOther:
		r.Status = Status(d.string())
	default:
		d.err = fmt.Errorf("unknown status %d", st)
	}
	r.Size = d.varint()
	r.MTime = int64(d.fixed64())
	r.Ctime = r.MTime + d.varint()
	r.Updated = r.MTime + d.varint()
	r.Inode = d.uvarint()
	r.Dev = d.uvarint()
	r.PartSize = d.varint()
	switch pk := d.byte(); pk {
	case pathNone:
	case pathInline:
		r.Path = d.string()
	case pathRoot:
		id, n := d.uvarint(), d.uvarint()
		if d.err == nil && (id == 0 || id >= uint64(len(rootList)) || n > uint64(len(key))) {
			d.err = fmt.Errorf("bad path reference (root %d, %d bytes)", id, n)
		}
		if d.err == nil {
			start := len(d.arena)
			d.arena = append(append(d.arena, rootList[id]...), key[len(key)-int(n):]...)
			r.Path = d.keep(start)
		}
	default:
		if d.err == nil {
			d.err = fmt.Errorf("unknown path kind %d", pk)
		}
	}
	r.BLAKE3 = d.hex()
	r.ETag = d.hex()
	r.UploadID = d.string()
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	return r, d.err
}
