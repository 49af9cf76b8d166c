package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sys/unix"
)

// pool is how many distinct assertions each benchmark cycles through. An
// implementation that keeps a replay store gets a fresh, empty store
// (swapped in with the timer stopped) each time the pool is used up, so
// that every call sees an assertion it has not seen, and no store grows
// beyond pool entries.
const pool = 256

// cpuClock measures the process's CPU time (every thread: the benchmark
// loop and the garbage collector it keeps busy) while the benchmark timer
// runs, and reports it as cpu-ns/op next to ns/op. On a shared machine
// wall time also counts the time other processes held the CPU; CPU time
// does not.
type cpuClock struct {
	b            *testing.B
	total, start time.Duration
	running      bool
}

func newCPUClock(b *testing.B) *cpuClock {
	c := &cpuClock{b: b}
	b.ResetTimer()
	c.startTimer()
	return c
}

func processCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

func (c *cpuClock) startTimer() {
	c.b.StartTimer()
	c.start, c.running = processCPU(), true
}

func (c *cpuClock) stopTimer() {
	if c.running {
		c.total += processCPU() - c.start
		c.running = false
	}
	c.b.StopTimer()
}

// done stops the timers and reports cpu-ns/op.
func (c *cpuClock) done() {
	c.stopTimer()
	c.b.ReportMetric(float64(c.total.Nanoseconds())/float64(c.b.N), "cpu-ns/op")
}

var (
	poolsMu sync.Mutex
	pools   = map[string][]url.Values{}
)

// benchClients are the four clients of the benchmarks, one per alg.
var benchClients = Clients(Algs, 1)

func clientFor(alg string) Client {
	for _, c := range benchClients {
		if c.Alg == alg {
			return c
		}
	}
	panic("no client for " + alg)
}

// forms returns the pool of token request forms for alg, minted once per
// process: every implementation verifies the same assertions.
func forms(alg string) []url.Values {
	poolsMu.Lock()
	defer poolsMu.Unlock()
	if p, ok := pools[alg]; ok {
		return p
	}
	c := clientFor(alg)
	p := make([]url.Values, pool)
	for i := range p {
		p[i] = Form(c.MintNew())
	}
	pools[alg] = p
	return p
}

// BenchmarkClientAuth measures one client authentication, from the decoded
// form to the authenticated client_id, through each implementation, for
// each alg, next to two references:
//
//   - floor: the standard library's check of the signature over the
//     signing input, the signature already decoded and the key at hand
//     (the same floor as verify's BenchmarkBaseline);
//   - golang-jwt: jwt.Parse with the key (what cmd/baseline does per
//     request): signature, JSON claims into a map, exp/nbf/iat.
//
// Compare the sub-benchmarks of one alg with each other, from one run.
// Besides ns/op (wall time), each reports cpu-ns/op: the process's CPU time
// per operation, which other processes on a shared machine do not inflate.
func BenchmarkClientAuth(b *testing.B) {
	ctx := context.Background()
	for _, alg := range Algs {
		b.Run(alg, func(b *testing.B) {
			b.Run("floor", func(b *testing.B) { benchFloor(b, alg) })
			b.Run("golang-jwt", func(b *testing.B) { benchGolangJWT(b, alg) })
			for _, im := range Implementations {
				b.Run(im.Name, func(b *testing.B) {
					if !im.Supports(alg) {
						b.Skipf("%s does not accept %s client assertions", im.Name, alg)
					}
					benchImpl(b, ctx, im, alg)
				})
			}
		})
	}
}

func benchImpl(b *testing.B, ctx context.Context, im Implementation, alg string) {
	p := forms(alg)
	want := clientFor(alg).ID
	newAuth := func() Authenticator {
		a, err := im.New(benchClients)
		if err != nil {
			b.Fatal(err)
		}
		return a
	}
	a := newAuth()
	b.ReportAllocs()
	clock := newCPUClock(b)
	for i := 0; i < b.N; i++ {
		if i%pool == 0 && i > 0 && im.Replay {
			clock.stopTimer()
			a.Close()
			a = newAuth()
			clock.startTimer()
		}
		id, err := a.Authenticate(ctx, p[i%pool])
		if err != nil || id != want {
			b.Fatalf("%s: got %q, %v", im.Name, id, err)
		}
	}
	clock.done()
	a.Close()
}

func benchGolangJWT(b *testing.B, alg string) {
	p := forms(alg)
	pub := clientFor(alg).Public()
	keyFunc := func(*jwt.Token) (any, error) { return pub, nil }
	parser := jwt.NewParser(jwt.WithValidMethods([]string{alg}))
	b.ReportAllocs()
	clock := newCPUClock(b)
	for i := 0; i < b.N; i++ {
		tok, err := parser.Parse(p[i%pool].Get("client_assertion"), keyFunc)
		if err != nil || !tok.Valid {
			b.Fatal(err)
		}
	}
	clock.done()
}

func benchFloor(b *testing.B, alg string) {
	p := forms(alg)
	signing := make([][]byte, len(p))
	sigs := make([][]byte, len(p))
	for i, f := range p {
		a := f.Get("client_assertion")
		dot := strings.LastIndexByte(a, '.')
		signing[i] = []byte(a[:dot])
		sig, err := base64.RawURLEncoding.DecodeString(a[dot+1:])
		if err != nil {
			b.Fatal(err)
		}
		sigs[i] = sig
	}
	check := floorCheck(alg, clientFor(alg).Public())
	b.ReportAllocs()
	clock := newCPUClock(b)
	for i := 0; i < b.N; i++ {
		if !check(signing[i%pool], sigs[i%pool]) {
			b.Fatal("floor rejects a good signature")
		}
	}
	clock.done()
}

// floorCheck is verify's BenchmarkBaseline check: the standard library
// alone, on bytes already decoded.
func floorCheck(alg string, pub crypto.PublicKey) func(signing, sig []byte) bool {
	switch alg {
	case "RS256":
		return func(signing, sig []byte) bool {
			h := sha256.Sum256(signing)
			return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, h[:], sig) == nil
		}
	case "PS256":
		return func(signing, sig []byte) bool {
			h := sha256.Sum256(signing)
			return rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
		}
	case "ES256":
		return func(signing, sig []byte) bool {
			h := sha256.Sum256(signing)
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			return ecdsa.Verify(pub.(*ecdsa.PublicKey), h[:], r, s)
		}
	case "EdDSA":
		return func(signing, sig []byte) bool {
			return ed25519.Verify(pub.(ed25519.PublicKey), signing, sig)
		}
	}
	panic("no floor for " + alg)
}
