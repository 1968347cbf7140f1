package ui

import "github.com/airlift-io/airlift/internal/iam"

// IAMPolicyJSON is iam-policy --json: the policy with what it was
// written for. Without --json the policy document alone is printed, so
// that it can be handed to `aws iam put-role-policy` as it is.
type IAMPolicyJSON struct {
	Command string     `json:"command"`
	Bucket  string     `json:"bucket"`
	Prefix  string     `json:"prefix"`
	Policy  iam.Policy `json:"policy"`
}
