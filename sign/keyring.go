package sign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Defaults of KeyRingConfig.
const (
	// DefaultPublishLead is how long a new key is published before the
	// ring signs with it: three times pkjwt's default JWKS refresh interval
	// (5 min), so that every server has fetched it even after a failed
	// refresh.
	DefaultPublishLead = 15 * time.Minute

	// DefaultLeeway is the clock skew a retired key's publication allows
	// for: the leeway pkjwt's verifier allows by default.
	DefaultLeeway = 15 * time.Second

	// maxCacheAge caps the JWK Set's Cache-Control max-age.
	maxCacheAge = time.Hour
)

// Key states reported by [KeyRing.Keys].
const (
	StateNext     = "next"     // published, not yet signing
	StateCurrent  = "current"  // signing
	StatePrevious = "previous" // published until its last assertions expire
)

// KeyRingConfig is the policy of a [KeyRing]. The zero value (or a nil
// *KeyRingConfig) is the default; each field documents its zero value.
type KeyRingConfig struct {
	// Signer is the policy of each key's [Signer] (lifetime, audience,
	// typ). Its Algorithm applies to RSA keys only (PS256, say); other keys
	// sign with their own alg. Its KeyID must be empty: a key's kid is its
	// ID. Its Now defaults to the ring's. Nil: the default policy.
	Signer *Config

	// PublishLead is how long a key rotated in is published before the
	// ring signs with it. It must exceed the time every server takes to
	// fetch the client's JWK Set: more than twice the servers' refresh
	// interval. Zero: DefaultPublishLead (15 min). Negative: an error.
	PublishLead time.Duration

	// Leeway is how long, beyond the lifetime of its last assertion, a
	// replaced key stays published: the clock skew the servers tolerate.
	// Zero: DefaultLeeway (15 s). Negative: an error.
	Leeway time.Duration

	// Generate makes the key of each rotation (and the first key of an
	// empty store). Nil: a new ECDSA P-256 key.
	Generate func() (crypto.Signer, error)

	// Logger receives every state change: a key published, activated,
	// retired or revoked, and failures of scheduled work. Nil: no logging.
	Logger *slog.Logger

	// Now returns the current time. Nil: time.Now.
	Now func() time.Time
}

// KeyInfo describes one key of a [KeyRing].
type KeyInfo struct {
	// ID is the key's kid.
	ID string
	// Algorithm is the alg it signs with.
	Algorithm string
	// State is StateNext, StateCurrent or StatePrevious.
	State string
	// ActivateAt is when the ring starts (or started) signing with it.
	ActivateAt time.Time
	// RetireAt is when a previous key leaves the JWK Set; zero for the
	// others.
	RetireAt time.Time
}

// KeyRing holds a client's keys and rotates them without a failed request:
// a new key is published in the client's JWK Set at once and signs only
// after a publish lead, when every server has fetched it; the key it
// replaces stays published until no assertion it signed can still be
// valid (its lifetime plus the leeway), then leaves the set.
//
// The ring is an [AssertionSource] (it signs with its current key) and an
// http.Handler serving the public JWK Set, to be served at the jwks_uri
// the client registered. It applies state changes when it is used
// (assertions, JWK Set requests, [KeyRing.Keys]) or when
// [KeyRing.RotateEvery]'s timer fires; they follow from the keys'
// activation times, so a restarted ring resumes where it was. It is safe
// for concurrent use; it starts no goroutine of its own.
type KeyRing struct {
	clientID string
	issuer   string
	store    KeyStore
	signCfg  Config
	lead     time.Duration
	leeway   time.Duration
	generate func() (crypto.Signer, error)
	log      *slog.Logger
	now      func() time.Time
	maxAge   string // Cache-Control of the JWK Set

	mu        sync.Mutex
	keys      []*ringKey // by activation time
	current   *ringKey
	nextEvent time.Time // earliest time the state changes; zero: never
	valid     bool      // current, nextEvent and jwks reflect keys
	jwks      []byte
	etag      string
}

// ringKey is a key of the ring with its signer.
type ringKey struct {
	StoredKey
	signer *Signer
}

// NewKeyRing returns the key ring of client clientID for the authorization
// server with issuer identifier issuer, with keys from store. If store is
// empty, it generates a first key that signs at once (it must be
// registered with the server before the client is used, like any first
// key). A nil cfg means the default policy; cfg is copied.
//
// It returns an error wrapping [ErrInvalidConfig] or [ErrUnsuitableKey]
// for invalid arguments or stored keys, and one wrapping [ErrStore] when
// the store fails.
func NewKeyRing(ctx context.Context, clientID, issuer string, store KeyStore, cfg *KeyRingConfig) (*KeyRing, error) {
	var c KeyRingConfig
	if cfg != nil {
		c = *cfg
	}
	r := &KeyRing{
		clientID: clientID,
		issuer:   issuer,
		store:    store,
		lead:     c.PublishLead,
		leeway:   c.Leeway,
		generate: c.Generate,
		log:      c.Logger,
		now:      c.Now,
	}
	if c.Signer != nil {
		r.signCfg = *c.Signer
	}
	if r.signCfg.Now == nil {
		r.signCfg.Now = c.Now // assertions follow the ring's clock
	}
	switch {
	case store == nil:
		return nil, fmt.Errorf("%w: nil key store", ErrInvalidConfig)
	case r.lead < 0 || r.leeway < 0:
		return nil, fmt.Errorf("%w: negative PublishLead or Leeway", ErrInvalidConfig)
	case r.signCfg.KeyID != "" || r.signCfg.OmitKeyID:
		return nil, fmt.Errorf("%w: the ring sets each key's kid; leave Signer.KeyID and OmitKeyID unset", ErrInvalidConfig)
	}
	if r.lead == 0 {
		r.lead = DefaultPublishLead
	}
	if r.leeway == 0 {
		r.leeway = DefaultLeeway
	}
	if r.generate == nil {
		r.generate = func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("client_id", clientID)
	if r.now == nil {
		r.now = time.Now
	}
	// A cache in front of the JWK Set may hide a new key for max-age; a
	// quarter of the lead leaves the rest to the servers' own refresh.
	r.maxAge = "public, max-age=" + strconv.Itoa(int(min(r.lead/4, maxCacheAge)/time.Second))
	// The signer policy is checked once here, with a throwaway key if need
	// be, so that a bad Config fails now rather than at the first rotation.
	probe, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	probeCfg := r.signCfg
	probeCfg.Algorithm = ""
	if _, err := NewSigner(clientID, probe, issuer, &probeCfg); err != nil {
		return nil, err
	}

	stored, err := store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	sortByActivation(stored)
	for _, sk := range stored {
		rk, err := r.newRingKey(sk)
		if err != nil {
			return nil, fmt.Errorf("stored key %q: %w", sk.ID, err)
		}
		for _, other := range r.keys {
			if other.ID == sk.ID {
				return nil, fmt.Errorf("%w: stored key ID %q twice", ErrStore, sk.ID)
			}
		}
		r.keys = append(r.keys, rk)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if len(r.keys) == 0 {
		if _, err := r.addKey(ctx, now); err != nil {
			return nil, err
		}
	}
	r.advance(ctx, now)
	return r, nil
}

// newRingKey makes the signer of a stored key.
func (r *KeyRing) newRingKey(sk StoredKey) (*ringKey, error) {
	if sk.ID == "" || sk.Key == nil {
		return nil, fmt.Errorf("%w: key without ID or private key", ErrStore)
	}
	cfg := r.signCfg
	cfg.KeyID = sk.ID
	if _, isRSA := sk.Key.Public().(*rsa.PublicKey); !isRSA {
		cfg.Algorithm = "" // Signer.Algorithm chooses among RSA algs only
	}
	s, err := NewSigner(r.clientID, sk.Key, r.issuer, &cfg)
	if err != nil {
		return nil, err
	}
	return &ringKey{StoredKey: sk, signer: s}, nil
}

// addKey generates and stores a key that signs from activateAt. r.mu is
// held.
func (r *KeyRing) addKey(ctx context.Context, activateAt time.Time) (*ringKey, error) {
	k, err := r.generate()
	if err != nil {
		return nil, fmt.Errorf("%w: generate: %w", ErrUnsuitableKey, err)
	}
	if k == nil {
		return nil, fmt.Errorf("%w: Generate returned no key", ErrUnsuitableKey)
	}
	id, err := Thumbprint(k.Public())
	if err != nil {
		return nil, err
	}
	for _, other := range r.keys {
		if other.ID == id {
			return nil, fmt.Errorf("%w: Generate returned a key the ring holds", ErrUnsuitableKey)
		}
	}
	rk, err := r.newRingKey(StoredKey{ID: id, Key: k, ActivateAt: activateAt})
	if err != nil {
		return nil, err
	}
	if err := r.store.Save(ctx, rk.StoredKey); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	r.keys = append(r.keys, rk) // activateAt is the latest: order kept
	r.log.Info("sign: key published", "kid", id, "alg", rk.signer.Algorithm(), "activate_at", activateAt)
	return rk, nil
}

// retireAt returns when the key at index i, replaced by the next one,
// leaves the set. r.mu is held.
func (r *KeyRing) retireAt(i int) time.Time {
	return r.keys[i+1].ActivateAt.Add(r.keys[i].signer.Lifetime() + r.leeway)
}

// advance applies the state changes due at now: the latest key whose
// activation has come signs, replaced keys whose assertions have all
// expired leave. r.mu is held.
func (r *KeyRing) advance(ctx context.Context, now time.Time) {
	if r.valid && (r.nextEvent.IsZero() || now.Before(r.nextEvent)) {
		return
	}
	cur := -1
	for i, k := range r.keys {
		if !k.ActivateAt.After(now) {
			cur = i
		}
	}
	var current *ringKey
	if cur >= 0 {
		current = r.keys[cur]
	}
	kept := make([]*ringKey, 0, len(r.keys))
	var next time.Time
	for i, k := range r.keys {
		switch {
		case i < cur:
			at := r.retireAt(i)
			if !now.Before(at) {
				if err := r.store.Delete(ctx, k.ID); err != nil {
					// The ring forgets the key all the same; a later load
					// finds it retired and deletes it then.
					r.log.Warn("sign: could not delete a retired key from the store", "kid", k.ID, "err", err)
				}
				r.log.Info("sign: key retired", "kid", k.ID)
				continue
			}
			next = earliest(next, at)
		case i > cur:
			next = earliest(next, k.ActivateAt)
		}
		kept = append(kept, k)
	}
	r.keys = kept
	if current != r.current && current != nil {
		r.log.Info("sign: key activated", "kid", current.ID)
	}
	r.current, r.nextEvent, r.valid = current, next, true
	r.render()
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// render renders the public JWK Set of the ring's keys. r.mu is held.
func (r *KeyRing) render() {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for i := len(r.keys) - 1; i >= 0; i-- { // newest first
		k := r.keys[i]
		j, err := publicJWK(k.signer.Public(), k.ID, k.signer.Algorithm())
		if err != nil {
			continue // NewSigner accepted the key: cannot happen
		}
		set.Keys = append(set.Keys, j)
	}
	b, _ := json.Marshal(set) // strings only: cannot fail
	sum := sha256.Sum256(b)
	r.jwks, r.etag = b, `"`+base64.RawURLEncoding.EncodeToString(sum[:16])+`"`
}

// ClientID implements AssertionSource.
func (r *KeyRing) ClientID() string { return r.clientID }

// Signer returns the Signer of the current key. It returns an error
// wrapping [ErrNoKey] if no key is active (a store whose every key
// activates in the future).
func (r *KeyRing) Signer(ctx context.Context) (*Signer, error) {
	r.mu.Lock()
	r.advance(ctx, r.now())
	cur := r.current
	r.mu.Unlock()
	if cur == nil {
		return nil, fmt.Errorf("%w: no key of client %q is active yet", ErrNoKey, r.clientID)
	}
	return cur.signer, nil
}

// Assertion implements AssertionSource: a fresh assertion signed with the
// current key.
func (r *KeyRing) Assertion(ctx context.Context) (string, error) {
	s, err := r.Signer(ctx)
	if err != nil {
		return "", err
	}
	return s.Assertion(ctx)
}

// Rotate starts a rotation: it generates a key, stores it and publishes it
// at once; the ring signs with it once [KeyRingConfig.PublishLead] has
// passed. It returns the new key's description.
//
// It returns an error wrapping [ErrRotationPending] while the previous
// rotation's key waits for its lead, and one wrapping [ErrStore] or
// [ErrUnsuitableKey] when the key cannot be made or stored; the ring is
// then unchanged.
func (r *KeyRing) Rotate(ctx context.Context) (KeyInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.advance(ctx, now)
	if last := r.keys[len(r.keys)-1]; last.ActivateAt.After(now) {
		return KeyInfo{}, fmt.Errorf("%w: key %s signs from %s", ErrRotationPending, last.ID, last.ActivateAt.Format(time.RFC3339))
	}
	if _, err := r.addKey(ctx, now.Add(r.lead)); err != nil {
		return KeyInfo{}, err
	}
	r.valid = false
	r.advance(ctx, now)
	return r.info(len(r.keys)-1, now), nil
}

// Revoke removes the key with ID id from the ring and its store at once,
// without waiting for its assertions to expire: for a key that leaked. The
// current key cannot be revoked: Rotate, and Revoke the leaked key once the
// new one signs (after the publish lead; a ring made with a short
// PublishLead for the occasion shortens that wait, at the price of requests
// refused by servers that have not yet fetched the new key).
//
// It returns an error wrapping [ErrKeyNotFound], [ErrCurrentKey] or
// [ErrStore]; the ring is then unchanged.
func (r *KeyRing) Revoke(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.advance(ctx, now)
	for i, k := range r.keys {
		if k.ID != id {
			continue
		}
		if k == r.current {
			return fmt.Errorf("%w: %s", ErrCurrentKey, id)
		}
		if err := r.store.Delete(ctx, id); err != nil {
			return fmt.Errorf("%w: %w", ErrStore, err)
		}
		r.keys = append(r.keys[:i:i], r.keys[i+1:]...)
		r.log.Warn("sign: key revoked", "kid", id)
		r.valid = false
		r.advance(ctx, now)
		return nil
	}
	return fmt.Errorf("%w: %s", ErrKeyNotFound, id)
}

// Keys describes the ring's keys, oldest first.
func (r *KeyRing) Keys(ctx context.Context) []KeyInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.advance(ctx, now)
	out := make([]KeyInfo, len(r.keys))
	for i := range r.keys {
		out[i] = r.info(i, now)
	}
	return out
}

// info describes key i. r.mu is held.
func (r *KeyRing) info(i int, now time.Time) KeyInfo {
	k := r.keys[i]
	ki := KeyInfo{ID: k.ID, Algorithm: k.signer.Algorithm(), ActivateAt: k.ActivateAt}
	switch {
	case k == r.current:
		ki.State = StateCurrent
	case k.ActivateAt.After(now):
		ki.State = StateNext
	default:
		ki.State = StatePrevious
		ki.RetireAt = r.retireAt(i)
	}
	return ki
}

// ServeHTTP serves the ring's public JWK Set (RFC 7517 §5): every
// published key (next, current and previous) with kid, alg and use "sig",
// and never a private member. GET and HEAD only. Cache-Control allows
// caching for a quarter of the publish lead (at most an hour); an ETag
// answers conditional requests with 304 Not Modified.
func (r *KeyRing) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.mu.Lock()
	r.advance(req.Context(), r.now())
	body, etag := r.jwks, r.etag
	r.mu.Unlock()
	h := w.Header()
	h.Set("Cache-Control", r.maxAge)
	h.Set("ETag", etag)
	if inm := req.Header.Get("If-None-Match"); inm != "" && inm == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if req.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

var _ http.Handler = (*KeyRing)(nil)

// RotateEvery starts a goroutine that rotates the ring so that each key
// signs for interval: it publishes the next key interval - PublishLead
// after the latest key's activation (at once if that time has passed, as
// after a long stop), and applies the other state changes when they fall
// due. Failures are logged and retried. stop ends the goroutine and waits
// for it; it is idempotent.
//
// The schedule follows the keys' activation times, so it survives a
// restart. It uses real timers: do not combine it with a
// [KeyRingConfig.Now] that does not follow the wall clock.
//
// It returns an error wrapping [ErrInvalidConfig] unless interval exceeds
// the publish lead.
func (r *KeyRing) RotateEvery(interval time.Duration) (stop func(), err error) {
	if interval <= r.lead {
		return nil, fmt.Errorf("%w: rotation interval %v must exceed the publish lead %v", ErrInvalidConfig, interval, r.lead)
	}
	done := make(chan struct{})
	quit := make(chan struct{})
	go func() {
		defer close(done)
		retry := min(interval/4, time.Minute)
		timer := time.NewTimer(0)
		defer timer.Stop()
		for {
			select {
			case <-quit:
				return
			case <-timer.C:
			}
			timer.Reset(r.tick(interval, retry))
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit) })
		<-done
	}, nil
}

// tick rotates if due, applies due state changes and returns how long to
// wait for the next work.
func (r *KeyRing) tick(interval, retry time.Duration) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r.mu.Lock()
	now := r.now()
	r.advance(ctx, now)
	due := r.keys[len(r.keys)-1].ActivateAt.Add(interval - r.lead)
	r.mu.Unlock()
	if !now.Before(due) {
		if _, err := r.Rotate(ctx); err != nil {
			r.log.Error("sign: scheduled rotation failed", "err", err)
			return retry
		}
		r.mu.Lock()
		due = r.keys[len(r.keys)-1].ActivateAt.Add(interval - r.lead)
		r.mu.Unlock()
	}
	r.mu.Lock()
	wake := due
	if !r.nextEvent.IsZero() && r.nextEvent.Before(wake) {
		wake = r.nextEvent
	}
	now = r.now()
	r.mu.Unlock()
	return max(wake.Sub(now), 0)
}
