package transfer

import (
	"errors"
	"fmt"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// UserMessage renders err for a person, on one line. The SDK's wording
// of a failed request ("operation error S3: HeadBucket, https response
// error StatusCode: 404, RequestID: …, HostID: …, api error NotFound: …",
// "https" even over http) becomes "HeadBucket: NotFound (HTTP 404)"; the
// request and host ids, which only a support case needs, are kept when
// verbose. The context the engine wrapped around the error stays.
func UserMessage(err error, verbose bool) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	var op *smithy.OperationError
	if errors.As(err, &op) {
		s = strings.Replace(s, op.Error(), op.OperationName+": "+requestMessage(op.Err, verbose), 1)
	} else if re := responseError(err); re != nil {
		s = strings.Replace(s, re.Error(), requestMessage(re, verbose), 1)
	}
	return oneLine(s)
}

// RequestID returns the S3 request id of the failed request in err, or "".
func RequestID(err error) string {
	if re := responseError(err); re != nil {
		return re.ServiceRequestID()
	}
	return ""
}

func responseError(err error) *awshttp.ResponseError {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re
	}
	return nil
}

// requestMessage says what the server answered: the S3 error code and
// message, and the HTTP status.
func requestMessage(err error, verbose bool) string {
	var msg string
	var ae smithy.APIError
	re := responseError(err)
	switch {
	case errors.As(err, &ae):
		msg = ae.ErrorCode()
		if m := strings.TrimSpace(ae.ErrorMessage()); m != "" {
			msg += ": " + m
		}
	case re != nil && re.Err != nil:
		msg = re.Err.Error()
	default:
		msg = err.Error()
	}
	if re == nil {
		return msg
	}
	if msg == "" || msg == fmt.Sprint(re.HTTPStatusCode()) {
		msg = fmt.Sprintf("HTTP %d", re.HTTPStatusCode())
	} else {
		msg += fmt.Sprintf(" (HTTP %d)", re.HTTPStatusCode())
	}
	if verbose {
		var ids []string
		if id := re.ServiceRequestID(); id != "" {
			ids = append(ids, "request id "+id)
		}
		var host interface{ ServiceHostID() string }
		if errors.As(err, &host) && host.ServiceHostID() != "" {
			ids = append(ids, "host id "+host.ServiceHostID())
		}
		if len(ids) > 0 {
			msg += " [" + strings.Join(ids, ", ") + "]"
		}
	}
	return msg
}

func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
