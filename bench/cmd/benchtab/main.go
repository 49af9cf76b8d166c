// Command benchtab turns the output of BenchmarkClientAuth (on stdin) into
// the Markdown tables of BENCHMARKS.md.
//
// The input is one or more runs of the test binary (run-micro.sh runs it
// once per alg and round, so that the implementations of one alg are
// measured within seconds of each other). A run starts at its "goos:"
// line. For each run and alg, benchtab divides each implementation's
// ns/op by the floor's (the bare signature check) and by pkjwt's from the
// same run; it prints the median of those same-run ratios (with their
// range), then the medians of ns/op, B/op and allocs/op over the runs.
package main

import (
	"bufio"
	"fmt"
	"log"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// BenchmarkClientAuth/RS256/pkjwt-2   2000   42627 ns/op   4131 B/op   50 allocs/op
var line = regexp.MustCompile(`^BenchmarkClientAuth/([^/\s]+)/([^\s]+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:\s+([\d.]+) B/op\s+([\d.]+) allocs/op)?`)

type samples struct {
	ns, bytes, allocs []float64
	run               []int // the run of each ns sample
}

func main() {
	log.SetFlags(0)
	data := map[string]map[string]*samples{}
	var algs, impls []string
	run := 0
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "goos:") {
			run++
		}
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		alg, impl := m[1], m[2]
		if data[alg] == nil {
			data[alg] = map[string]*samples{}
			algs = append(algs, alg)
		}
		if !slices.Contains(impls, impl) {
			impls = append(impls, impl)
		}
		s := data[alg][impl]
		if s == nil {
			s = &samples{}
			data[alg][impl] = s
		}
		s.ns = append(s.ns, num(m[3]))
		s.run = append(s.run, run)
		if m[4] != "" {
			s.bytes = append(s.bytes, num(m[4]))
			s.allocs = append(s.allocs, num(m[5]))
		}
	}
	if len(algs) == 0 {
		log.Fatal("no BenchmarkClientAuth lines on stdin")
	}

	fmt.Printf("Time per authentication as a multiple of the floor, the bare signature check\n")
	fmt.Printf("(median of the same-run ratios, range in brackets; lower is better):\n\n")
	ratioTable(data, algs, impls, "floor")
	fmt.Printf("\nTime per authentication as a multiple of pkjwt's (same-run ratios):\n\n")
	ratioTable(data, algs, impls, "pkjwt")

	// Table 3: the medians themselves.
	fmt.Printf("\nMedians over the runs (n runs): µs/op with its range, B/op, allocs/op:\n\n")
	fmt.Printf("| alg | impl | µs/op | min-max | B/op | allocs/op | n |\n|---|---|---:|---|---:|---:|---:|\n")
	for _, alg := range algs {
		for _, impl := range impls {
			s := data[alg][impl]
			if s == nil {
				fmt.Printf("| %s | %s | — | | | | 0 |\n", alg, impl)
				continue
			}
			fmt.Printf("| %s | %s | %.1f | %.1f-%.1f | %.0f | %.0f | %d |\n", alg, impl,
				med(s, "ns")/1000, slices.Min(s.ns)/1000, slices.Max(s.ns)/1000, med(s, "bytes"), med(s, "allocs"), len(s.ns))
		}
	}
}

func num(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		log.Fatal(err)
	}
	return f
}

func med(s *samples, what string) float64 {
	if s == nil {
		return 0
	}
	var v []float64
	switch what {
	case "ns":
		v = s.ns
	case "bytes":
		v = s.bytes
	case "allocs":
		v = s.allocs
	}
	if len(v) == 0 {
		return 0
	}
	return median(v)
}

// ratioTable prints, per alg, each implementation's median same-run ratio
// of ns/op to ref's.
func ratioTable(data map[string]map[string]*samples, algs, impls []string, ref string) {
	fmt.Printf("| alg | %s |\n|---|%s\n", strings.Join(impls, " | "), strings.Repeat("---:|", len(impls)))
	for _, alg := range algs {
		fmt.Printf("| %s |", alg)
		for _, impl := range impls {
			r := ratios(data[alg][impl], data[alg][ref])
			if len(r) == 0 {
				fmt.Printf(" — |")
				continue
			}
			if impl == ref {
				fmt.Printf(" 1 |")
				continue
			}
			fmt.Printf(" **%.2fx** (%.2f-%.2f) |", median(r), slices.Min(r), slices.Max(r))
		}
		fmt.Println()
	}
}

// ratios returns s/ref for each run that has both (the first sample of
// each in that run).
func ratios(s, ref *samples) []float64 {
	if s == nil || ref == nil {
		return nil
	}
	refByRun := map[int]float64{}
	for i, r := range ref.run {
		if _, ok := refByRun[r]; !ok {
			refByRun[r] = ref.ns[i]
		}
	}
	var out []float64
	seen := map[int]bool{}
	for i, r := range s.run {
		if d, ok := refByRun[r]; ok && !seen[r] {
			out = append(out, s.ns[i]/d)
			seen[r] = true
		}
	}
	return out
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
