package sqlstore_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pkjwt/pkjwt/internal/redistest"
	"github.com/pkjwt/pkjwt/internal/sqltest"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/replay/redisstore"
	"github.com/pkjwt/pkjwt/replay/sqlstore"
)

// BenchmarkClaim measures first claims of unique keys, 32 goroutines at a
// time sharing one store (as a server's concurrent requests do), against
// every store in the same run: the in-memory store and Redis (the
// baselines), PostgreSQL, MariaDB and SQLite (a WAL file), each server
// local and started by the benchmark. claims/s is the throughput; ns/op
// its inverse over all goroutines. Each SQL store has a pool of 32
// connections (SQLite: 1, one writer at a time); the servers run with
// fsync off (internal/sqltest), so this measures the claim path, not the
// disk.
func BenchmarkClaim(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) replay.Store
	}{
		{"memory", func(b *testing.B) replay.Store {
			// Room for every claim of the run: a full store refuses.
			m, err := replay.NewMemory(replay.MemoryConfig{MaxEntries: b.N + 1<<16})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { m.Close() })
			return m
		}},
		{"redis", func(b *testing.B) replay.Store {
			srv := redistest.Start(b)
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true, PoolSize: 32})
			b.Cleanup(func() { rdb.Close() })
			s, err := redisstore.New(rdb, redisstore.Config{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			if err := s.Provision(context.Background()); err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"postgres", func(b *testing.B) replay.Store {
			return benchSQL(b, sqlstore.Postgres, sqltest.Postgres(b).DSN(), 32)
		}},
		{"mariadb", func(b *testing.B) replay.Store {
			return benchSQL(b, sqlstore.MySQL, sqltest.MariaDB(b).DSN(), 32)
		}},
		{"sqlite", func(b *testing.B) replay.Store {
			return benchSQL(b, sqlstore.SQLite, sqliteDSN(b), 1)
		}},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s := st.open(b)
			ctx := context.Background()
			until := time.Now().Add(time.Hour)
			var goroutine atomic.Int64
			b.SetParallelism(16) // 32 goroutines on 2 cores
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				prefix := "8:client-1jti-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatInt(goroutine.Add(1), 36) + "-"
				for i := 0; pb.Next(); i++ {
					if _, err := s.Claim(ctx, prefix+strconv.Itoa(i), until); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
		})
	}
}

func benchSQL(b *testing.B, d sqlstore.Dialect, dsn string, conns int) replay.Store {
	db := openDB(b, d, dsn)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	return newStore(b, db, d, sqlstore.Config{})
}
