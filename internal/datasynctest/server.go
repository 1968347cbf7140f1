// Package datasynctest runs a local stand-in for AWS DataSync that speaks
// its real wire protocol (AWS JSON 1.1: POST /, Content-Type
// application/x-amz-json-1.1, X-Amz-Target FmrsService.<Operation>,
// errors as __type + message, timestamps as epoch seconds). It keeps
// locations, tasks and executions in memory, moves each execution
// through DataSync's phases one DescribeTaskExecution at a time, and
// records every request so tests can assert on what was sent.
package datasynctest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Call is one request the server received.
type Call struct {
	Op   string
	Body map[string]any
}

// Failure makes an execution end in ERROR with DataSync's code and detail.
type Failure struct {
	Code, Detail string
}

// APIFault makes an operation fail with a service error.
type APIFault struct {
	Type    string // e.g. InvalidRequestException
	Message string
	Status  int // 0 = 400
}

// Server is a running fake DataSync endpoint.
type Server struct {
	URL string
	srv *httptest.Server

	mu    sync.Mutex
	calls []Call
	locs  map[string]*resource
	tasks map[string]*resource
	execs map[string]*execution
	n     int

	// Behaviour, changed only through the setters: requests may come
	// from another process, which gives the race detector no
	// happens-before edge with the test.
	totalBytes int64               // bytes each execution "transfers"; 0 = 10 MiB
	totalFiles int64               // 0 = 100
	fail       *Failure            // executions end in ERROR
	hold       bool                // executions stay TRANSFERRING until cancelled
	faults     map[string]APIFault // operation -> error
}

type resource struct {
	arn  string
	uri  string // locations
	src  string // tasks
	tags map[string]string
}

type execution struct {
	arn       string
	step      int
	cancelled bool
	started   time.Time
}

// Start runs a server for the test and stops it at cleanup.
func Start(t interface {
	Cleanup(func())
	Helper()
}) *Server {
	t.Helper()
	s := &Server{locs: map[string]*resource{}, tasks: map[string]*resource{}, execs: map[string]*execution{}, faults: map[string]APIFault{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Calls returns the requests received so far, optionally only those of
// one operation.
func (s *Server) Calls(op string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if op == "" || c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Ops returns the operation names received, in order.
func (s *Server) Ops() []string {
	var out []string
	for _, c := range s.Calls("") {
		out = append(out, c.Op)
	}
	return out
}

// Counts returns how many locations, tasks and executions exist.
func (s *Server) Counts() (locations, tasks, executions int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.locs), len(s.tasks), len(s.execs)
}

// SetFailure makes executions end in ERROR (nil: succeed).
func (s *Server) SetFailure(f *Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = f
}

// SetHold keeps executions TRANSFERRING until they are cancelled.
func (s *Server) SetHold(hold bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = hold
}

// SetFault makes op fail (nil fault clears it).
func (s *Server) SetFault(op string, f *APIFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == nil {
		delete(s.faults, op)
	} else {
		s.faults[op] = *f
	}
}

// phases is what DescribeTaskExecution reports at each step.
var phases = []string{"QUEUED", "LAUNCHING", "PREPARING", "TRANSFERRING", "TRANSFERRING", "VERIFYING", "SUCCESS"}

type errResp struct {
	status int
	typ    string
	msg    string
}

func invalid(format string, a ...any) *errResp {
	return &errResp{status: 400, typ: "InvalidRequestException", msg: fmt.Sprintf(format, a...)}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	fail := func(e *errResp) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-Requestid", "fake-request")
		w.WriteHeader(e.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.typ, "message": e.msg})
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		fail(&errResp{status: 404, typ: "UnknownOperationException", msg: "want POST /"})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		fail(&errResp{status: 400, typ: "SerializationException", msg: "bad Content-Type " + ct})
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "FmrsService.")
	if !ok {
		fail(&errResp{status: 400, typ: "UnknownOperationException", msg: "bad X-Amz-Target"})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		fail(&errResp{status: 403, typ: "MissingAuthenticationTokenException", msg: "request is not signed"})
		return
	}
	raw, _ := io.ReadAll(r.Body)
	body := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			fail(&errResp{status: 400, typ: "SerializationException", msg: err.Error()})
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Op: op, Body: body})
	if f, ok := s.faults[op]; ok {
		st := f.Status
		if st == 0 {
			st = 400
		}
		fail(&errResp{status: st, typ: f.Type, msg: f.Message})
		return
	}
	out, e := s.handle(op, body)
	if e != nil {
		fail(e)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func str(m map[string]any, k string) string {
	v, _ := m[k].(string)
	return v
}

func obj(m map[string]any, k string) map[string]any {
	v, _ := m[k].(map[string]any)
	return v
}

func list(m map[string]any, k string) []any {
	v, _ := m[k].([]any)
	return v
}

var tagValue = regexp.MustCompile(`^[a-zA-Z0-9\s+=._:/-]*$`)

func parseTags(body map[string]any) (map[string]string, *errResp) {
	tags := map[string]string{}
	for _, t := range list(body, "Tags") {
		tm, _ := t.(map[string]any)
		k, v := str(tm, "Key"), str(tm, "Value")
		if k == "" || !tagValue.MatchString(k) || !tagValue.MatchString(v) {
			return nil, invalid("invalid tag %q=%q", k, v)
		}
		tags[k] = v
	}
	return tags, nil
}

func (s *Server) newArn(kind string) string {
	s.n++
	switch kind {
	case "location":
		return fmt.Sprintf("arn:aws:datasync:us-east-1:111122223333:location/loc-%017x", s.n)
	default:
		return fmt.Sprintf("arn:aws:datasync:us-east-1:111122223333:task/task-%017x", s.n)
	}
}

func (s *Server) createLocation(body map[string]any, uri string) (any, *errResp) {
	tags, e := parseTags(body)
	if e != nil {
		return nil, e
	}
	arn := s.newArn("location")
	s.locs[arn] = &resource{arn: arn, uri: uri, tags: tags}
	return map[string]any{"LocationArn": arn}, nil
}

func sub(body map[string]any) string {
	d := "/" + strings.Trim(str(body, "Subdirectory"), "/")
	if d != "/" {
		d += "/"
	}
	return d
}

func (s *Server) handle(op string, body map[string]any) (any, *errResp) {
	switch op {
	case "CreateLocationNfs":
		if str(body, "ServerHostname") == "" || str(body, "Subdirectory") == "" || len(list(obj(body, "OnPremConfig"), "AgentArns")) == 0 {
			return nil, invalid("ServerHostname, Subdirectory and OnPremConfig.AgentArns are required")
		}
		return s.createLocation(body, "nfs://"+str(body, "ServerHostname")+sub(body))
	case "CreateLocationSmb":
		if str(body, "ServerHostname") == "" || str(body, "Subdirectory") == "" || len(list(body, "AgentArns")) == 0 {
			return nil, invalid("ServerHostname, Subdirectory and AgentArns are required")
		}
		return s.createLocation(body, "smb://"+str(body, "ServerHostname")+sub(body))
	case "CreateLocationHdfs":
		nn := list(body, "NameNodes")
		if len(nn) == 0 || len(list(body, "AgentArns")) == 0 || str(body, "AuthenticationType") == "" {
			return nil, invalid("NameNodes, AgentArns and AuthenticationType are required")
		}
		n0, _ := nn[0].(map[string]any)
		return s.createLocation(body, fmt.Sprintf("hdfs://%s:%v%s", str(n0, "Hostname"), n0["Port"], sub(body)))
	case "CreateLocationObjectStorage":
		if str(body, "ServerHostname") == "" || str(body, "BucketName") == "" {
			return nil, invalid("ServerHostname and BucketName are required")
		}
		return s.createLocation(body, "object-storage://"+str(body, "ServerHostname")+"/"+str(body, "BucketName")+sub(body))
	case "CreateLocationS3":
		bucket, ok := strings.CutPrefix(str(body, "S3BucketArn"), "arn:aws:s3:::")
		if !ok || bucket == "" || str(obj(body, "S3Config"), "BucketAccessRoleArn") == "" {
			return nil, invalid("S3BucketArn and S3Config.BucketAccessRoleArn are required")
		}
		return s.createLocation(body, "s3://"+bucket+sub(body))
	case "ListLocations":
		var out []any
		for _, l := range s.locs {
			if matchFilters(body, "LocationUri", l.uri) {
				out = append(out, map[string]any{"LocationArn": l.arn, "LocationUri": l.uri})
			}
		}
		return map[string]any{"Locations": out}, nil
	case "ListTagsForResource":
		arn := str(body, "ResourceArn")
		res := s.locs[arn]
		if res == nil {
			res = s.tasks[arn]
		}
		if res == nil {
			return nil, invalid("resource %s not found", arn)
		}
		var tags []any
		for k, v := range res.tags {
			tags = append(tags, map[string]any{"Key": k, "Value": v})
		}
		return map[string]any{"Tags": tags}, nil
	case "CreateTask":
		src, dst := str(body, "SourceLocationArn"), str(body, "DestinationLocationArn")
		if s.locs[src] == nil || s.locs[dst] == nil {
			return nil, invalid("location not found")
		}
		if m := str(body, "TaskMode"); m != "" && m != "BASIC" && m != "ENHANCED" {
			return nil, invalid("bad TaskMode %q", m)
		}
		tags, e := parseTags(body)
		if e != nil {
			return nil, e
		}
		arn := s.newArn("task")
		s.tasks[arn] = &resource{arn: arn, src: src, tags: tags}
		return map[string]any{"TaskArn": arn}, nil
	case "ListTasks":
		var out []any
		for _, t := range s.tasks {
			if matchFilters(body, "LocationId", t.src) {
				out = append(out, map[string]any{"TaskArn": t.arn, "Status": "AVAILABLE"})
			}
		}
		return map[string]any{"Tasks": out}, nil
	case "StartTaskExecution":
		task := str(body, "TaskArn")
		if s.tasks[task] == nil {
			return nil, invalid("task %s not found", task)
		}
		for _, e := range s.execs {
			if strings.HasPrefix(e.arn, task+"/") && !e.cancelled && e.step < len(phases)-1 {
				return nil, invalid("task %s already has an execution running", task)
			}
		}
		s.n++
		arn := fmt.Sprintf("%s/execution/exec-%017x", task, s.n)
		s.execs[arn] = &execution{arn: arn, started: time.Now()}
		return map[string]any{"TaskExecutionArn": arn}, nil
	case "DescribeTaskExecution":
		e := s.execs[str(body, "TaskExecutionArn")]
		if e == nil {
			return nil, invalid("execution not found")
		}
		return s.describe(e), nil
	case "CancelTaskExecution":
		e := s.execs[str(body, "TaskExecutionArn")]
		if e == nil {
			return nil, invalid("execution not found")
		}
		e.cancelled = true
		e.step = 0
		return map[string]any{}, nil
	}
	return nil, &errResp{status: 400, typ: "UnknownOperationException", msg: "unknown operation " + op}
}

// describe reports e's state and moves it one phase on.
func (s *Server) describe(e *execution) map[string]any {
	total, files := s.totalBytes, s.totalFiles
	if total == 0 {
		total = 10 << 20
	}
	if files == 0 {
		files = 100
	}
	out := map[string]any{
		"TaskExecutionArn":         e.arn,
		"StartTime":                float64(e.started.Unix()),
		"EstimatedBytesToTransfer": total,
		"EstimatedFilesToTransfer": files,
	}
	if e.cancelled {
		// First CANCELLING, then ERROR, as DataSync reports a cancelled
		// execution.
		if e.step == 0 {
			e.step++
			out["Status"] = "CANCELLING"
		} else {
			out["Status"] = "ERROR"
			out["Result"] = map[string]any{"ErrorCode": "OpCancelled", "ErrorDetail": "Cancelled by user"}
		}
		return out
	}
	phase := phases[e.step]
	if s.fail != nil && phase == "TRANSFERRING" {
		out["Status"] = "ERROR"
		out["BytesTransferred"] = total / 3
		out["Result"] = map[string]any{"TransferStatus": "ERROR", "ErrorCode": s.fail.Code, "ErrorDetail": s.fail.Detail}
		return out
	}
	var done int64
	switch {
	case phase == "TRANSFERRING" && (s.hold || phases[e.step+1] == "TRANSFERRING"):
		done = total / 2
	case e.step > 3:
		done = total
	}
	out["Status"] = phase
	out["BytesTransferred"] = done
	out["BytesWritten"] = done
	out["FilesTransferred"] = files * done / total
	if e.step > 4 {
		out["FilesVerified"] = files
	}
	if phase == "SUCCESS" {
		out["Result"] = map[string]any{"PrepareStatus": "SUCCESS", "TransferStatus": "SUCCESS", "VerifyStatus": "SUCCESS"}
	}
	if !(s.hold && phase == "TRANSFERRING") && e.step < len(phases)-1 {
		e.step++
	}
	return out
}

// matchFilters applies ListLocations/ListTasks filters on one field.
func matchFilters(body map[string]any, name, value string) bool {
	for _, f := range list(body, "Filters") {
		fm, _ := f.(map[string]any)
		if str(fm, "Name") != name {
			continue
		}
		ok := false
		for _, v := range list(fm, "Values") {
			vs, _ := v.(string)
			switch str(fm, "Operator") {
			case "Equals":
				ok = ok || value == vs
			case "BeginsWith":
				ok = ok || strings.HasPrefix(value, vs)
			case "Contains":
				ok = ok || strings.Contains(value, vs)
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
