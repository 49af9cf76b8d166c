package telemetry_test

import (
	"fmt"

	"github.com/pkjwt/pkjwt/internal/telemetry"
)

func Example() {
	for _, m := range telemetry.All[:4] {
		fmt.Println(m.Name, m.Unit, m.PrometheusName())
	}
	// Output:
	// pkjwt.client_auth.duration s pkjwt_client_auth_duration_seconds
	// pkjwt.client_auth.attempts {attempt} pkjwt_client_auth_attempts_total
	// pkjwt.key_lookup.duration s pkjwt_key_lookup_duration_seconds
	// pkjwt.replay.claim.duration s pkjwt_replay_claim_duration_seconds
}
