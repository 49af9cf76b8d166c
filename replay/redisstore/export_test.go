package redisstore

import (
	"context"
	"strconv"
	"time"
)

// KeysForTest returns the claim key and epoch marker key of key.
func (s *Store) KeysForTest(key string) (claim, marker string) { return s.keys(key) }

// SetMarkersForTest sets every epoch marker to epoch, as if the store had
// been in service since then: a test can then tell a detected loss from
// the guard an empty Redis gets at first use.
func (s *Store) SetMarkersForTest(ctx context.Context, epoch time.Time) error {
	p := s.client.Pipeline()
	for i := range tags {
		p.Set(ctx, s.tag(i)+"epoch", strconv.FormatInt(epoch.UnixMilli(), 10), 0)
	}
	_, err := p.Exec(ctx)
	return err
}

// CheckForTest runs the checker once.
func (s *Store) CheckForTest(ctx context.Context) error { return s.check(ctx) }
