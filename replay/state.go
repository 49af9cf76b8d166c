package replay

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// stateVersion identifies the layout of a state file.
const stateVersion = 1

// leaseIntervals is how many heartbeat intervals a lease written to the
// state file lasts. The store refuses claims once its lease has less than one
// interval left, so a heartbeat may fail or be late (a slow fsync on a busy
// disk) for most of that time before claims stop. A long lease costs little:
// after a crash the epoch is the earlier of the lease and the restart, and a
// restart within the lease, the usual case, sets it to the restart.
const leaseIntervals = 30

// state is the content of a Memory's state file.
type state struct {
	Version int `json:"pkjwt_replay_state"`
	// Clean is true when the store wrote the file in Close, with every
	// live claim in Claims. False while the store runs: the file then holds
	// the heartbeat's lease.
	Clean bool `json:"clean"`
	// Epoch is the store's epoch, in Unix nanoseconds (0: none).
	Epoch int64 `json:"epoch"`
	// Lease is, while the store runs, the time (Unix nanoseconds) until
	// which it may claim keys: a crash happened before it.
	Lease  int64        `json:"lease,omitempty"`
	Claims []savedClaim `json:"claims,omitempty"`
}

// savedClaim is one live claim: its key (base64, as keys are any bytes) and
// its until in Unix nanoseconds.
type savedClaim struct {
	Key   string `json:"k"`
	Until int64  `json:"u"`
}

func unixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// readState reads the state file at path. It returns (nil, nil) when there
// is none.
func readState(path string) (*state, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var st state
	dec := json.NewDecoder(bufio.NewReader(f))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("unknown version %d", st.Version)
	}
	return &st, nil
}

// writeState replaces the state file at path with st, durably: a crash
// leaves either the old file or the new one, and once writeState returns
// the new one survives a power loss.
func writeState(path string, st *state) (err error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 64<<10)
	if err := json.NewEncoder(w).Encode(st); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable. Systems that cannot open a
// directory for syncing keep the rename as durable as they make it.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}

func encodeKey(k string) string { return base64.RawStdEncoding.EncodeToString([]byte(k)) }

func decodeKey(s string) (string, error) {
	b, err := base64.RawStdEncoding.DecodeString(s)
	return string(b), err
}

// openState locks the state file at path, reads what the previous run left
// there, sets the store's epoch and claims from it, writes the first lease
// and starts the heartbeat. Only a lock held by another process is an
// error: a file that cannot be read or written makes the store guard from
// its start instead.
func (m *Memory) openState(path string, interval time.Duration) error {
	start := time.Now()
	lock, err := lockFile(path + ".lock")
	if errors.Is(err, errStateInUse) {
		return err
	}
	if err != nil {
		m.guardFromStart(start, "cannot lock the state file", err)
		return nil
	}

	st, err := readState(path)
	switch {
	case err != nil:
		m.guardFromStart(start, "cannot read the state file", err)
	case st == nil:
		m.logger.Info("replay: no state file: first start, nothing to refuse", "path", path)
	case st.Epoch > start.UnixNano():
		// A clock that went backward, or a file from elsewhere: the file
		// cannot be trusted.
		m.guardFromStart(start, "the state file's epoch lies in the future", fmt.Errorf("epoch %v", unixNano(st.Epoch)))
	case !st.Clean && st.Lease <= 0:
		m.guardFromStart(start, "the state file holds neither a clean save nor a lease", errors.New("no lease"))
	case st.Clean:
		m.epoch = unixNano(st.Epoch)
		loaded, lost := m.load(st.Claims, start)
		if lost > 0 {
			m.guardFromStart(start, "the state file holds more live claims than MaxEntries allows", fmt.Errorf("%d claims not loaded", lost))
		} else {
			m.logger.Info("replay: state loaded after a clean shutdown", "path", path, "claims", loaded, "epoch", m.epoch)
		}
	default:
		// The previous run died: every claim it made lies before its
		// lease, and before our start.
		m.epoch = unixNano(max(st.Epoch, min(st.Lease, start.UnixNano())))
		m.logger.Warn("replay: the previous run ended without a clean shutdown; its claims are lost, so assertions issued before the epoch are refused",
			"path", path, "epoch", m.epoch)
	}

	if err := m.renew(path, interval); err != nil {
		_ = lock.Close()
		m.guardFromStart(start, "cannot write the state file", err)
		return nil
	}
	m.statePath, m.lockFile = path, lock
	m.wg.Go(func() { m.heartbeat(interval) })
	return nil
}

// guardFromStart moves the epoch to start, when the store cannot know what
// an earlier run claimed.
func (m *Memory) guardFromStart(start time.Time, why string, err error) {
	m.epoch = start
	m.logger.Warn("replay: "+why+"; refusing assertions issued before this start", "error", err, "epoch", start)
}

// load adds the saved claims still live at now, and returns how many it
// loaded and how many live ones it could not.
func (m *Memory) load(claims []savedClaim, now time.Time) (loaded, lost int) {
	for _, c := range claims {
		ttl := unixNano(c.Until).Sub(now)
		if ttl <= 0 {
			continue
		}
		k, err := decodeKey(c.Key)
		if err == nil && k != "" {
			err = m.shard(k).claim(k, ttl, &m.closed)
		}
		if err != nil && !errors.Is(err, ErrReplayed) {
			lost++
			continue
		}
		loaded++
	}
	return loaded, lost
}

// renew writes a lease of leaseIntervals intervals from now to the state
// file and, once it is on disk, lets claims run until one interval before
// it ends.
func (m *Memory) renew(path string, interval time.Duration) error {
	now := time.Now()
	lease := now.Add(leaseIntervals * interval)
	if err := writeState(path, &state{Version: stateVersion, Epoch: nanos(m.epoch), Lease: lease.UnixNano()}); err != nil {
		return err
	}
	until := lease.Add(-interval)
	m.lease.Store(&until)
	return nil
}

// heartbeat renews the lease every interval until Close.
func (m *Memory) heartbeat(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
		}
		err := m.renew(m.statePath, interval)
		switch {
		case err != nil && !failing:
			m.logger.Error("replay: cannot renew the state file; claims stop when the lease runs out", "path", m.statePath, "error", err)
		case err == nil && failing:
			m.logger.Info("replay: state file renewed again", "path", m.statePath)
		}
		failing = err != nil
	}
}

// saveClean writes the live claims and the epoch to the state file, marked
// as a clean shutdown, and releases the file.
func (m *Memory) saveClean(claims []savedClaim) error {
	defer m.lockFile.Close()
	err := writeState(m.statePath, &state{Version: stateVersion, Clean: true, Epoch: nanos(m.epoch), Claims: claims})
	if err != nil {
		m.logger.Error("replay: cannot save the claims to the state file; the next start will treat this stop as a crash", "path", m.statePath, "error", err)
		return fmt.Errorf("replay: saving state: %w", err)
	}
	m.logger.Info("replay: claims saved to the state file", "path", m.statePath, "claims", len(claims))
	return nil
}
