package edgetest_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pkjwt/pkjwt/internal/edgetest"
)

// Example keeps a log record and reads its attributes.
func Example() {
	h := &edgetest.Records{}
	slog.New(h).LogAttrs(context.Background(), slog.LevelInfo, "refused", slog.String("reason", "expired"))
	got := h.Take()
	fmt.Println(len(got), got[0].Message, edgetest.Attrs(got[0])["reason"], edgetest.KeyFor("ES384"))
	// Output:
	// 1 refused expired p384
}
