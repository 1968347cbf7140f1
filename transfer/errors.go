package transfer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/aws/smithy-go"
)

// fatalCodes are S3 errors that no other file will escape: the run stops
// at once instead of failing every file the same way.
var fatalCodes = map[string]string{
	"AccessDenied":          "access denied",
	"AllAccessDisabled":     "access denied",
	"InvalidAccessKeyId":    "the access key is not known to the endpoint",
	"SignatureDoesNotMatch": "the secret key does not match the access key",
	"ExpiredToken":          "the credentials have expired",
	"InvalidToken":          "the session token is invalid",
	"NoSuchBucket":          "the bucket does not exist",
	"InvalidBucketName":     "the bucket name is invalid",
	"AccountProblem":        "the account has a problem",
}

// FatalError stops a whole run.
type FatalError struct {
	Reason string
	Err    error
}

func (e *FatalError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *FatalError) Unwrap() error { return e.Err }

// classify turns an error that should stop the run into a *FatalError and
// returns every other error unchanged (it then fails one file only).
func classify(err error) error {
	if err == nil {
		return nil
	}
	var fe *FatalError
	if errors.As(err, &fe) {
		return err
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if why, ok := fatalCodes[ae.ErrorCode()]; ok {
			return &FatalError{Reason: why, Err: err}
		}
	}
	var oe *net.OpError
	if errors.As(err, &oe) && errors.Is(err, syscall.ECONNREFUSED) {
		return &FatalError{Reason: "cannot connect to the endpoint", Err: err}
	}
	return err
}

// IsFatal reports whether err stops the run.
func IsFatal(err error) bool {
	var fe *FatalError
	return errors.As(err, &fe)
}

// ErrChanged says a source file changed while it was being read; what was
// read is not completed as an object.
var ErrChanged = errors.New("file changed while it was being read")

func canceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// APIErrorCode returns the S3 error code in err, or "".
func APIErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func wrapf(err error, format string, a ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(a, err)...)
}
