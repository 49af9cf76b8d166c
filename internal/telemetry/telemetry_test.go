package telemetry_test

import (
	"os"
	"strings"
	"testing"

	"github.com/pkjwt/pkjwt/internal/telemetry"
)

// TestREADME checks that the README's metrics table lists every metric
// with its OpenTelemetry and Prometheus names and its unit, and every
// attribute it may carry.
func TestREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "### Metrics")
	if !ok {
		t.Fatal("README.md has no Metrics section")
	}
	rows := map[string]string{}
	for line := range strings.Lines(section) {
		if cells := strings.Split(line, "|"); len(cells) > 3 {
			rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = line
		}
	}
	for _, m := range telemetry.All {
		row, ok := rows[m.PrometheusName()]
		if !ok {
			t.Errorf("README lists no %s", m.PrometheusName())
			continue
		}
		unit := m.Unit
		if unit != "s" {
			unit = "`" + unit + "`"
		}
		for _, want := range append([]string{"`" + m.Name + "`", unit}, m.Attributes...) {
			if !strings.Contains(row, want) {
				t.Errorf("README row of %s lacks %q", m.PrometheusName(), want)
			}
		}
	}
}
