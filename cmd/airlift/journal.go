package main

import (
	"strings"

	"github.com/spf13/pflag"

	"github.com/airlift-io/airlift/internal/state"
	"github.com/airlift-io/airlift/transfer"
)

// journalFlags choose where the state store lives and whether to use it.
type journalFlags struct {
	stateDir  string
	noJournal bool
}

func (j *journalFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&j.stateDir, "state-dir", "", "directory of the transfer journal (default $XDG_STATE_HOME/airlift or ~/.local/state/airlift)")
	fl.BoolVar(&j.noJournal, "no-journal", false, "keep no journal: an interrupted run starts over")
}

// dest is the state store's name for loc on the endpoint in use.
func (a *app) dest(loc transfer.Location) state.Dest {
	return state.Dest{Endpoint: strings.TrimRight(a.conn.endpoint, "/"), Bucket: loc.Bucket, Prefix: loc.Prefix}
}

// openJournal opens the state store for loc, or returns nil with
// --no-journal. A store that is locked or unreadable stops the command:
// nothing has been written yet.
func (a *app) openJournal(j journalFlags, loc transfer.Location) (*state.Store, error) {
	if j.noJournal {
		return nil, nil
	}
	return a.openStore(j.stateDir, loc)
}

func (a *app) openStore(dir string, loc transfer.Location) (*state.Store, error) {
	if dir == "" {
		d, err := state.DefaultDir()
		if err != nil {
			return nil, usageErr("%v", err)
		}
		dir = d
	}
	s, err := state.Open(dir, a.dest(loc), state.Options{})
	if err != nil {
		// Locked, unreadable or newer: nothing was written, and nothing
		// should be until the user decides.
		return nil, &exitError{code: exitUsage, err: err}
	}
	return s, nil
}
