// Package policyreplay replays a decision log on a candidate policy: each
// logged decision's input is decided again by the candidate, and the
// decision compared with the one logged, as the gateway acts on decisions
// (policy.Change). It answers "what would this policy change do to the
// traffic we had?" before the change is enforced. The command is
// `restcomm-gateway policy replay`.
package policyreplay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/restcomm/restcomm-gateway/internal/decisionlog"
	"github.com/restcomm/restcomm-gateway/policy"
)

// Bounds of what a log may hold.
const (
	// DefaultMaxLineBytes bounds a line: a longer one is skipped (and
	// counted). A decision entry is a few kilobytes.
	DefaultMaxLineBytes = 1 << 20
	// DefaultMaxLines bounds the lines read: a longer log is refused
	// (split it).
	DefaultMaxLines = 50_000_000
	// maxKeys bounds the distinct operations and logged revisions a report
	// lists; the rest are counted under "(other)".
	maxKeys = 200
	// memoGeneration bounds the memory of decisions of repeated inputs.
	memoGeneration = 4096
)

// Other names the operations or revisions past the bound of a report.
const Other = "(other)"

// Options tune a replay. The zero value is usable.
type Options struct {
	// Examples is how many changed decisions the report shows, the first
	// ones: 0 for none.
	Examples int
	// MaxLineBytes and MaxLines bound the log (Default… when 0).
	MaxLineBytes int
	MaxLines     int
}

// Report is what a replay found.
type Report struct {
	// Candidate names the candidate policy: its revision, and its bundles
	// as a decision log of it would name them.
	Candidate CandidateInfo `json:"candidate"`
	// Lines is how many lines were read; Compared how many were decision
	// entries decided again and compared; Skipped, why the others were not.
	Lines    int     `json:"lines"`
	Compared int     `json:"compared"`
	Skipped  Skipped `json:"skipped"`
	// Masked counts the compared entries that were masked when they were
	// logged (erased or masked members): compared as logged.
	Masked int `json:"masked"`
	// LoggedErrors counts the compared entries that logged a policy error
	// (the request was denied: the gateway fails closed).
	LoggedErrors int `json:"logged_errors"`
	// LoggedBundles counts the compared entries by the bundles they were
	// decided with ("builtin=…,overlay=…").
	LoggedBundles map[string]int `json:"logged_bundles"`
	// Changed counts the decisions the candidate would change.
	Changed int `json:"changed"`
	// ByChange counts them by kind (policy.WouldDeny, …).
	ByChange map[string]int `json:"by_change"`
	// WouldDenyStatus counts the would_deny ones by the candidate's status.
	WouldDenyStatus map[int]int `json:"would_deny_status"`
	// ByOperation counts them by input.operation, then kind.
	ByOperation map[string]map[string]int `json:"by_operation"`
	// Examples are the first changed decisions.
	Examples []Example `json:"examples"`
}

// CandidateInfo names the candidate policy.
type CandidateInfo struct {
	Revision string            `json:"revision"`
	Bundles  map[string]string `json:"bundles"`
}

// Skipped counts the lines that were not compared, by reason.
type Skipped struct {
	// Malformed: not a JSON object.
	Malformed int `json:"malformed"`
	// NotDecision: JSON, but not a decision entry of the gateway's policy
	// (its path is not restcomm/authz/decision): other log lines.
	NotDecision int `json:"not_decision"`
	// NoResult: a decision entry without an input, or with neither a
	// result nor an error.
	NoResult int `json:"incomplete"`
	// TooLong: longer than the bound.
	TooLong int `json:"too_long"`
	// Blank lines.
	Blank int `json:"blank"`
}

// Total is the number of lines skipped.
func (s Skipped) Total() int {
	return s.Malformed + s.NotDecision + s.NoResult + s.TooLong + s.Blank
}

// Example is one changed decision.
type Example struct {
	DecisionID string `json:"decision_id"`
	Operation  string `json:"operation"`
	Change     string `json:"change"`
	// Logged and Candidate are the results: the decision document, or
	// the error that denied.
	Logged    Result `json:"logged"`
	Candidate Result `json:"candidate"`
}

// Result is a decision document or, when the policy gave none, the
// error that made the gateway deny.
type Result struct {
	Result any    `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

func (r Result) String() string {
	if r.Error != "" {
		if r.Result != nil {
			return fmt.Sprintf("%s (error: %s)", compact(r.Result), r.Error)
		}
		return "error: " + r.Error
	}
	return compact(r.Result)
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// entry is what a line of the log is read as: a decision log entry of
// OPA's (internal/decisionlog.Event), bare or within a Caddy log line.
type entry struct {
	DecisionID string                              `json:"decision_id"`
	Path       string                              `json:"path"`
	Input      json.RawMessage                     `json:"input"`
	Result     json.RawMessage                     `json:"result"`
	Error      *decisionlog.Error                  `json:"error"`
	Bundles    map[string]decisionlog.BundleInfoV1 `json:"bundles"`
	Erased     []string                            `json:"erased"`
	Masked     []string                            `json:"masked"`
}

// Replay reads the decision log r and decides each entry's input with
// candidate. An error is a log that cannot be read or is longer than the
// bound, or ctx's end.
func Replay(ctx context.Context, r io.Reader, candidate *policy.Policy, o Options) (*Report, error) {
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.MaxLines <= 0 {
		o.MaxLines = DefaultMaxLines
	}
	rep := &Report{
		Candidate:       CandidateInfo{Revision: candidate.Revision(), Bundles: candidate.BundleRevisions()},
		LoggedBundles:   map[string]int{},
		ByChange:        map[string]int{},
		WouldDenyStatus: map[int]int{},
		ByOperation:     map[string]map[string]int{},
		Examples:        []Example{},
	}
	m := newMemo(candidate)
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		line, tooLong, err := readLine(br, o.MaxLineBytes)
		if err == io.EOF {
			return rep, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the decision log: %w", err)
		}
		if rep.Lines == o.MaxLines {
			return nil, fmt.Errorf("the decision log has more than %d lines: replay it in parts", o.MaxLines)
		}
		rep.Lines++
		switch {
		case tooLong:
			rep.Skipped.TooLong++
		case len(bytes.TrimSpace(line)) == 0:
			rep.Skipped.Blank++
		default:
			if err := rep.compare(ctx, line, m, o); err != nil {
				return nil, err
			}
		}
	}
}

// compare reads one line and, when it is a decision entry, compares it.
func (rep *Report) compare(ctx context.Context, line []byte, m *memo, o Options) error {
	var e entry
	if err := json.Unmarshal(line, &e); err != nil {
		rep.Skipped.Malformed++
		return nil
	}
	if e.Path != policy.DecisionPath {
		rep.Skipped.NotDecision++
		return nil
	}
	input, err := decode(e.Input)
	if err != nil || input == nil || (e.Error == nil && isNull(e.Result)) {
		rep.Skipped.NoResult++
		return nil
	}
	var logged Result
	if !isNull(e.Result) {
		if logged.Result, err = decode(e.Result); err != nil {
			rep.Skipped.NoResult++
			return nil
		}
	}
	rep.Compared++
	if len(e.Erased) > 0 || len(e.Masked) > 0 {
		rep.Masked++
	}
	if e.Error != nil {
		rep.LoggedErrors++
		logged.Error = e.Error.Message
	}
	rep.countBundles(e.Bundles)

	// What the gateway did: the logged decision, or Deny when the policy
	// gave none (or one the gateway refused, logged with an error).
	was := policy.Deny
	if e.Error == nil {
		if was, err = policy.DecisionOf(logged.Result); err != nil {
			was, logged.Error = policy.Deny, err.Error()
		}
	}
	now, cand, err := m.decide(ctx, input)
	if err != nil && ctx.Err() != nil {
		return err
	}
	change := policy.Change(was, now)
	if change == "" {
		return nil
	}
	op, _ := input.(map[string]any)["operation"].(string)
	if op == "" {
		op = "(none)"
	}
	rep.Changed++
	rep.ByChange[change]++
	if change == policy.WouldDeny {
		rep.WouldDenyStatus[now.Status]++
	}
	if _, ok := rep.ByOperation[op]; !ok && len(rep.ByOperation) >= maxKeys {
		op = Other
	}
	if rep.ByOperation[op] == nil {
		rep.ByOperation[op] = map[string]int{}
	}
	rep.ByOperation[op][change]++
	if len(rep.Examples) < o.Examples {
		rep.Examples = append(rep.Examples, Example{
			DecisionID: e.DecisionID, Operation: op, Change: change, Logged: logged, Candidate: cand,
		})
	}
	return nil
}

func (rep *Report) countBundles(b map[string]decisionlog.BundleInfoV1) {
	names := make([]string, 0, len(b))
	for name, info := range b {
		names = append(names, name+"="+info.Revision)
	}
	sort.Strings(names)
	key := strings.Join(names, ",")
	if key == "" {
		key = "(none)"
	}
	if _, ok := rep.LoggedBundles[key]; !ok && len(rep.LoggedBundles) >= maxKeys {
		key = Other
	}
	rep.LoggedBundles[key]++
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// decode decodes a JSON document keeping its numbers as written.
func decode(raw json.RawMessage) (any, error) {
	if isNull(raw) {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, errors.New("not an object")
	}
	return v, nil
}

// readLine reads a line without its end; tooLong when it was longer than
// max bytes, whose rest is read and dropped.
func readLine(br *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		part, isPrefix, err := br.ReadLine()
		if err != nil {
			if err == io.EOF && (buf != nil || tooLong) {
				return buf, tooLong, nil
			}
			return nil, false, err
		}
		if !tooLong {
			if len(buf)+len(part) > max {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, part...)
			}
		}
		if !isPrefix {
			if buf == nil {
				buf = []byte{}
			}
			return buf, tooLong, nil
		}
	}
}

// memo decides inputs with the candidate, remembering the decisions of
// recent inputs when the candidate is deterministic: a week's log repeats
// the same inputs many times.
type memo struct {
	p          *policy.Policy
	cur, older map[string]memoized
}

type memoized struct {
	d   policy.Decision
	res Result
}

func newMemo(p *policy.Policy) *memo {
	m := &memo{p: p}
	if p.Deterministic() {
		m.cur, m.older = map[string]memoized{}, map[string]memoized{}
	}
	return m
}

// decide is the candidate's decision of input (Deny when it gives no
// valid one, as the gateway) and its result.
func (m *memo) decide(ctx context.Context, input any) (policy.Decision, Result, error) {
	var key string
	if m.cur != nil {
		b, err := json.Marshal(input) // map keys sorted: a canonical form
		if err == nil {
			key = string(b)
			if v, ok := m.cur[key]; ok {
				return v.d, v.res, nil
			}
			if v, ok := m.older[key]; ok {
				m.put(key, v)
				return v.d, v.res, nil
			}
		}
	}
	var res Result
	d := policy.Deny
	doc, err := m.p.Evaluate(ctx, input)
	if err == nil {
		res.Result = doc
		if d, err = policy.DecisionOf(doc); err != nil {
			d = policy.Deny
		}
	}
	if err != nil {
		res.Error = err.Error()
		if ctx.Err() != nil {
			return d, res, err
		}
	}
	if key != "" {
		m.put(key, memoized{d, res})
	}
	return d, res, nil
}

func (m *memo) put(key string, v memoized) {
	if len(m.cur) >= memoGeneration {
		m.older, m.cur = m.cur, map[string]memoized{}
	}
	m.cur[key] = v
}
