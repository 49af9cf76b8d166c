// Command benchtab turns the output of BenchmarkClientAuth (on stdin) into
// the Markdown tables of BENCHMARKS.md.
//
// The input is one or more runs of the test binary (run-micro.sh runs it
// once per alg and round, so that the implementations of one alg are
// measured within seconds of each other). A run starts at its "goos:"
// line. For each run and alg, benchtab divides each implementation's
// cpu-ns/op (CPU time per authentication) and ns/op (wall time) by the
// floor's (the bare signature check) and by pkjwt's from the same run; it
// prints the median of those same-run ratios (with their range), then the
// medians of each metric over the runs.
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

// BenchmarkClientAuth/RS256/pkjwt-2   2000   42627 ns/op   43000 cpu-ns/op   4131 B/op   50 allocs/op
var (
	line   = regexp.MustCompile(`^BenchmarkClientAuth/([^/\s]+)/(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)
	metric = regexp.MustCompile(`([\d.]+) (\S+)`)
)

// samples are the values of one sub-benchmark: per metric unit, one value
// per run in which it appeared (the first, if it appeared more than once).
type samples map[string]map[int]float64

func main() {
	log.SetFlags(0)
	data := map[string]map[string]samples{}
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
			data[alg] = map[string]samples{}
			algs = append(algs, alg)
		}
		if !slices.Contains(impls, impl) {
			impls = append(impls, impl)
		}
		s := data[alg][impl]
		if s == nil {
			s = samples{}
			data[alg][impl] = s
		}
		for _, mm := range metric.FindAllStringSubmatch(m[3], -1) {
			unit := mm[2]
			if s[unit] == nil {
				s[unit] = map[int]float64{}
			}
			if _, dup := s[unit][run]; !dup {
				s[unit][run] = num(mm[1])
			}
		}
	}
	if len(algs) == 0 {
		log.Fatal("no BenchmarkClientAuth lines on stdin")
	}

	fmt.Printf("CPU time per authentication as a multiple of the floor, the bare signature check\n")
	fmt.Printf("(median of the same-run ratios, range in brackets; lower is better):\n\n")
	ratioTable(data, algs, impls, "floor", "cpu-ns/op")
	fmt.Printf("\nCPU time per authentication as a multiple of pkjwt's (same-run ratios):\n\n")
	ratioTable(data, algs, impls, "pkjwt", "cpu-ns/op")
	fmt.Printf("\nWall time (ns/op) as a multiple of the floor (same-run ratios):\n\n")
	ratioTable(data, algs, impls, "floor", "ns/op")
	fmt.Printf("\nWall time (ns/op) as a multiple of pkjwt's (same-run ratios):\n\n")
	ratioTable(data, algs, impls, "pkjwt", "ns/op")

	fmt.Printf("\nMedians over the runs (n runs), with the range of CPU µs/op:\n\n")
	fmt.Printf("| alg | impl | CPU µs/op | range | wall µs/op | B/op | allocs/op | n |\n|---|---|---:|---|---:|---:|---:|---:|\n")
	for _, alg := range algs {
		for _, impl := range impls {
			s := data[alg][impl]
			if s == nil {
				fmt.Printf("| %s | %s | — | | | | | 0 |\n", alg, impl)
				continue
			}
			cpu := values(s["cpu-ns/op"])
			rng := ""
			if len(cpu) > 0 {
				rng = fmt.Sprintf("%.1f-%.1f", slices.Min(cpu)/1000, slices.Max(cpu)/1000)
			}
			fmt.Printf("| %s | %s | %.1f | %s | %.1f | %.0f | %.0f | %d |\n", alg, impl,
				median(cpu)/1000, rng, median(values(s["ns/op"]))/1000, median(values(s["B/op"])), median(values(s["allocs/op"])), len(s["ns/op"]))
		}
	}
}

// ratioTable prints, per alg, each implementation's median same-run ratio
// of unit to ref's.
func ratioTable(data map[string]map[string]samples, algs, impls []string, ref, unit string) {
	fmt.Printf("| alg | %s |\n|---|%s\n", strings.Join(impls, " | "), strings.Repeat("---:|", len(impls)))
	for _, alg := range algs {
		fmt.Printf("| %s |", alg)
		for _, impl := range impls {
			r := ratios(data[alg][impl], data[alg][ref], unit)
			switch {
			case len(r) == 0:
				fmt.Printf(" — |")
			case impl == ref:
				fmt.Printf(" 1 |")
			default:
				fmt.Printf(" **%.2fx** (%.2f-%.2f) |", median(r), slices.Min(r), slices.Max(r))
			}
		}
		fmt.Println()
	}
}

// ratios returns s/ref of unit for each run that has both.
func ratios(s, ref samples, unit string) []float64 {
	if s == nil || ref == nil {
		return nil
	}
	var out []float64
	runs := make([]int, 0, len(s[unit]))
	for r := range s[unit] {
		runs = append(runs, r)
	}
	slices.Sort(runs)
	for _, r := range runs {
		if d, ok := ref[unit][r]; ok && d > 0 {
			out = append(out, s[unit][r]/d)
		}
	}
	return out
}

func values(m map[int]float64) []float64 {
	v := make([]float64, 0, len(m))
	for _, x := range m {
		v = append(v, x)
	}
	return v
}

func num(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		log.Fatal(err)
	}
	return f
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
