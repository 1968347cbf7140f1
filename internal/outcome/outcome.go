// Package outcome classifies how an operation ended, once, in the engine,
// so that the CLI has one place that turns a class into an exit code and
// no caller has to guess from an error's text.
//
// The classes are the ones a user or a cron job acts on differently:
// Done (nothing to do), Failed (some files failed or differ: look at the
// report, run again), Usage (the command or its configuration is wrong:
// nothing was written, fix it first) and Interrupted (stopped by a signal:
// run the same command again to continue).
package outcome

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Class is how an operation ended.
type Class int

const (
	Done Class = iota
	Failed
	Usage
	Interrupted
)

func (c Class) String() string {
	switch c {
	case Done:
		return "done"
	case Failed:
		return "failed"
	case Usage:
		return "usage"
	case Interrupted:
		return "interrupted"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// Error is an error with its class decided.
type Error struct {
	Class Class
	Err   error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Classed is implemented by engine errors that know their own class
// (a configuration problem found at the first request, say).
type Classed interface {
	OutcomeClass() Class
}

// As wraps err with class c; nil stays nil.
func As(c Class, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Class: c, Err: err}
}

// Usagef is a usage or configuration error: nothing was written.
func Usagef(format string, a ...any) error {
	return &Error{Class: Usage, Err: fmt.Errorf(format, a...)}
}

// Failedf is a partial failure: the report says what failed.
func Failedf(format string, a ...any) error {
	return &Error{Class: Failed, Err: fmt.Errorf(format, a...)}
}

// Interruptedf is an operation stopped by a signal.
func Interruptedf(format string, a ...any) error {
	return &Error{Class: Interrupted, Err: fmt.Errorf(format, a...)}
}

// Of returns err's class: the outermost *Error or Classed in its chain,
// Interrupted for a cancelled context, else Failed. nil is Done.
func Of(err error) Class {
	if err == nil {
		return Done
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch x := e.(type) {
		case *Error:
			return x.Class
		case Classed:
			return x.OutcomeClass()
		}
	}
	if errors.Is(err, context.Canceled) {
		return Interrupted
	}
	return Failed
}

// OptionError is an engine option that cannot be used. Option is the
// option's name in the engine (PartSize), and Problem may name other
// options as {Name}; the CLI renders them as the flags they came from, so
// engine messages need not know the flags.
type OptionError struct {
	Option  string
	Problem string
}

func (e *OptionError) Error() string       { return e.Render(func(o string) string { return o }) }
func (e *OptionError) OutcomeClass() Class { return Usage }

// Render writes the problem with every {Name} replaced by name(Name).
func (e *OptionError) Render(name func(option string) string) string {
	var b strings.Builder
	rest := e.Problem
	for {
		i := strings.IndexByte(rest, '{')
		j := strings.IndexByte(rest[i+1:], '}')
		if i < 0 || j < 0 {
			b.WriteString(rest)
			return b.String()
		}
		b.WriteString(rest[:i])
		b.WriteString(name(rest[i+1 : i+1+j]))
		rest = rest[i+j+2:]
	}
}

// BadOption returns an *OptionError.
func BadOption(option, format string, a ...any) error {
	return &OptionError{Option: option, Problem: fmt.Sprintf(format, a...)}
}
