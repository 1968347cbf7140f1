package datasync

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Handoff is what copy needs to hand a local source to DataSync: the
// source as the agent sees it, the agents that reach it and the role
// DataSync writes the bucket with.
type Handoff struct {
	Root      string   `json:"root"`   // the local source root this entry is for
	Source    string   `json:"source"` // e.g. nfs://filer/export/path
	AgentArns []string `json:"agent_arns"`
	RoleArn   string   `json:"role_arn"`
}

// Routes is a routes file (copy --routes): DataSync settings per local
// source root, so that copy --via auto can hand any of them over.
type Routes struct {
	Routes []Handoff `json:"routes"`
}

// LoadRoutes reads a routes file and checks every entry's source URL.
func LoadRoutes(path string) (*Routes, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("routes file: %w", err)
	}
	var r Routes
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("routes file %s: %w", path, err)
	}
	for i, h := range r.Routes {
		if h.Root == "" {
			return nil, fmt.Errorf("routes file %s: entry %d has no root", path, i+1)
		}
		if _, err := ParseSource(h.Source); err != nil {
			return nil, fmt.Errorf("routes file %s: root %s: %w", path, h.Root, err)
		}
	}
	return &r, nil
}

// For returns the entry whose root holds path (the deepest such root),
// with the source extended by path's place under it.
func (r *Routes) For(path string) (Handoff, bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Handoff{}, false
	}
	var best Handoff
	found := false
	for _, h := range r.Routes {
		root := filepath.Clean(h.Root)
		rel, err := filepath.Rel(root, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || (found && len(root) <= len(filepath.Clean(best.Root))) {
			continue
		}
		best, found = h, true
		if rel != "." {
			best.Source = strings.TrimRight(h.Source, "/") + "/" + filepath.ToSlash(rel)
		}
	}
	return best, found
}

// Resolve completes h (what the command line gave) from the routes file
// at routesFile ("" for none) for the local source src.
func (h Handoff) Resolve(routesFile, src string) (Handoff, error) {
	if routesFile == "" {
		return h, nil
	}
	rs, err := LoadRoutes(routesFile)
	if err != nil {
		return h, err
	}
	if r, ok := rs.For(src); ok {
		if h.Source == "" {
			h.Source = r.Source
		}
		h.AgentArns = append(h.AgentArns, r.AgentArns...)
		if h.RoleArn == "" {
			h.RoleArn = r.RoleArn
		}
	}
	return h, nil
}

// Complete says whether h holds all a hand-off needs.
func (h Handoff) Complete() bool {
	return h.Source != "" && h.RoleArn != "" && len(h.AgentArns) > 0
}

// Command is the airlift datasync command that runs h's copy into dst,
// with placeholders for what is missing.
func (h Handoff) Command(dst string) string {
	agent := "AGENT_ARN"
	if len(h.AgentArns) > 0 {
		agent = strings.Join(h.AgentArns, " --agent-arn ")
	}
	source, role := h.Source, h.RoleArn
	if source == "" {
		source = "nfs://FILER/EXPORT/PATH"
	}
	if role == "" {
		role = "ROLE_ARN"
	}
	return fmt.Sprintf("airlift datasync %s %s --agent-arn %s --role-arn %s", source, dst, agent, role)
}
