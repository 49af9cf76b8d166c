package redisstore_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/redistest"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/replay/redisstore"
	"github.com/pkjwt/pkjwt/replay/replaytest"
	"github.com/pkjwt/pkjwt/verify"
	"github.com/redis/go-redis/v9"
)

func newClusterClient(t testing.TB, c *redistest.Cluster) *redis.ClusterClient {
	t.Helper()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 c.Addrs(),
		ContextTimeoutEnabled: true,
		DialTimeout:           time.Second,
		PoolTimeout:           20 * time.Second,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// TestCluster runs the store on a real three-node Redis Cluster.
func TestCluster(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	rdb := newClusterClient(t, cluster)
	ctx := context.Background()

	t.Run("Conformance", func(t *testing.T) {
		replaytest.Run(t, func(t *testing.T) replay.Store {
			return newStore(t, rdb, redisstore.Config{Timeout: 20 * time.Second, CheckInterval: -1})
		})
	})

	t.Run("KeysSpreadOverNodes", func(t *testing.T) {
		s := newStore(t, rdb, redisstore.Config{Prefix: "spread:", CheckInterval: -1})
		// One client's claims: the same client_id, only the jti varies,
		// and the jti carries a hash tag of its own.
		for i := range 300 {
			if _, err := s.Claim(ctx, "2:c1:{pinned}"+strconv.Itoa(i), time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range cluster.Nodes {
			size, err := n.Do("DBSIZE")
			if err != nil {
				t.Fatal(err)
			}
			if k, _ := strconv.Atoi(size); k < 50 {
				t.Errorf("node %s holds %s keys of 300 claims (and their markers), want a third or so", n.Addr(), size)
			}
		}
	})

	t.Run("TwoVerifiersRace", func(t *testing.T) {
		nodes := []*verify.Verifier{
			epochNode(t, newStore(t, newClusterClient(t, cluster), redisstore.Config{CheckInterval: -1})),
			epochNode(t, newStore(t, newClusterClient(t, cluster), redisstore.Config{CheckInterval: -1})),
		}
		raceOneAssertion(t, nodes)
	})

	// Last: it restarts a node.
	t.Run("NodeRestartedWithoutData", func(t *testing.T) {
		store := newStore(t, newClusterClient(t, cluster), redisstore.Config{CheckInterval: -1})
		v := epochNode(t, store)
		// Enough assertions that some claims land on every node.
		used := make([]verify.Request, 30)
		for i := range used {
			used[i] = mint()
			if _, err := v.Verify(ctx, used[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.CheckForTest(ctx); err != nil { // what the checker knows before
			t.Fatal(err)
		}
		restarted := time.Now()
		cluster.Nodes[1].Restart()
		cluster.WaitOK(t)

		// The checker sees the new run_id before any claim does.
		deadline := time.Now().Add(10 * time.Second)
		for err := store.CheckForTest(ctx); err != nil; err = store.CheckForTest(ctx) {
			if time.Now().After(deadline) {
				t.Fatalf("check after the restart: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !store.Epoch().After(restarted) {
			t.Fatalf("Epoch = %v after a node restarted at %v, want later", store.Epoch(), restarted)
		}

		epochRefusals := 0
		for i, r := range used {
			var err error
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, err = v.Verify(ctx, r)
				if !errors.Is(err, verify.ErrReplayUnavailable) || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			switch {
			case errors.Is(err, verify.ErrReplayEpoch):
				epochRefusals++
			case errors.Is(err, verify.ErrReplayed):
			default:
				t.Fatalf("replay %d after a node restart: %v, want ErrReplayEpoch or ErrReplayed", i, err)
			}
		}
		if epochRefusals == 0 {
			t.Fatal("no replay was refused for the lost node's epoch: were no claims on it?")
		}
		afterLeeway(time.Now())
		wantAccepted(t, "fresh assertion after the node restart", v, mint())
	})
}

func TestClusterLoss(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	rdb := newClusterClient(t, cluster)
	replaytest.RunLoss(t, func(t *testing.T) replay.Store {
		s := newStore(t, rdb, redisstore.Config{CheckInterval: -1})
		if err := s.Provision(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	}, func(t *testing.T) {
		for _, n := range cluster.Nodes {
			n.Restart()
		}
		cluster.WaitOK(t)
	})
}
