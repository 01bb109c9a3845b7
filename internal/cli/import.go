package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/personfleet/personfleet/internal/client"
	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
)

// ImportNamespace seeds the name-based (v5) UUIDs of imported persons and
// their commands. It must never change: re-running an import relies on it.
var ImportNamespace = uuid.MustParse("5b0f6a3e-2c47-5d1b-8e9a-4f7c1d2e3b6a")

// importRow is one person to import. CSV columns and JSONL members have
// the same names; a JSONL row may give "name" as an object instead.
type importRow struct {
	ImportID      string       `json:"import_id,omitempty"`
	GivenName     string       `json:"given_name,omitempty"`
	FamilyName    string       `json:"family_name,omitempty"`
	MiddleNames   []string     `json:"middle_names,omitempty"`
	PreferredName string       `json:"preferred_name,omitempty"`
	Honorific     string       `json:"honorific,omitempty"`
	Suffix        string       `json:"suffix,omitempty"`
	FullName      string       `json:"full_name,omitempty"`
	Name          *person.Name `json:"name,omitempty"`
	Email         string       `json:"email,omitempty"`
	Phone         string       `json:"phone,omitempty"`
	CountryCode   string       `json:"country_code,omitempty"`
}

var csvColumns = []string{"import_id", "given_name", "family_name", "middle_names", "preferred_name",
	"honorific", "suffix", "full_name", "email", "phone", "country_code"}

// name is the row's legal name: "name", else the name columns, else
// full_name split as person.ParseFullName does.
func (r *importRow) name() person.Name {
	if r.Name != nil {
		return *r.Name
	}
	if r.GivenName == "" && r.FamilyName == "" && r.FullName != "" {
		return person.ParseFullName(r.FullName)
	}
	return person.Name{GivenName: r.GivenName, FamilyName: r.FamilyName, MiddleNames: r.MiddleNames,
		Preferred: r.PreferredName, Honorific: r.Honorific, Suffix: r.Suffix}
}

// ImportIDs are the deterministic ids of one row: see ImportKey.
type ImportIDs struct {
	Key      string
	PersonID person.ID
	Create   string
	AddEmail string
	AddPhone string
}

// ImportKey derives a row's ids. The rule (documented in `import --help`):
//
//	key       = "import_id:" + source + "\x1f" + import_id      when the row has an import_id
//	          = "row:" + source + "\x1f" + the row's canonical JSON  otherwise
//	person_id = UUIDv5(ImportNamespace, key)
//	create    = UUIDv5(ImportNamespace, person_id + "/create_person")
//	add_email = UUIDv5(ImportNamespace, person_id + "/add_email/" + lower(trim(email)))
//	add_phone = UUIDv5(ImportNamespace, person_id + "/add_phone/" + trim(country_code) + "/" + trim(phone))
//
// The canonical JSON is the row's name (trimmed), email (trimmed, lower
// case), phone and country code (trimmed), in that order.
func ImportKey(source string, r *importRow) ImportIDs {
	var key string
	if id := strings.TrimSpace(r.ImportID); id != "" {
		key = "import_id:" + source + "\x1f" + id
	} else {
		n := r.name()
		trim := func(s string) string { return strings.TrimSpace(s) }
		mids := make([]string, len(n.MiddleNames))
		for i, m := range n.MiddleNames {
			mids[i] = trim(m)
		}
		canon, _ := json.Marshal([]any{trim(n.GivenName), trim(n.FamilyName), mids, trim(n.Preferred),
			trim(n.Honorific), trim(n.Suffix), strings.ToLower(trim(r.Email)), trim(r.Phone), trim(r.CountryCode)})
		key = "row:" + source + "\x1f" + string(canon)
	}
	pid := uuid.NewSHA1(ImportNamespace, []byte(key)).String()
	ids := ImportIDs{Key: key, PersonID: person.ID(pid), Create: uuid.NewSHA1(ImportNamespace, []byte(pid+"/create_person")).String()}
	if e := strings.TrimSpace(r.Email); e != "" {
		ids.AddEmail = uuid.NewSHA1(ImportNamespace, []byte(pid+"/add_email/"+strings.ToLower(e))).String()
	}
	if p := strings.TrimSpace(r.Phone); p != "" {
		ids.AddPhone = uuid.NewSHA1(ImportNamespace, []byte(pid+"/add_phone/"+strings.TrimSpace(r.CountryCode)+"/"+p)).String()
	}
	return ids
}

type importOptions struct {
	source      string
	format      string
	concurrency int
	actor       string
}

// rowError is one row's failure, reported at the end.
type rowError struct {
	Row      int       `json:"row"` // line number in the file
	PersonID person.ID `json:"person_id,omitempty"`
	Command  string    `json:"command,omitempty"`
	Code     string    `json:"code"`
	Message  string    `json:"message"`
}

// importReport is the outcome of an import.
type importReport struct {
	File      string     `json:"file"`
	Source    string     `json:"source"`
	Rows      int        `json:"rows"`
	Processed int        `json:"processed"`
	Created   int        `json:"created"`
	Already   int        `json:"already_imported"`
	Failed    int        `json:"failed"`
	Commands  cmdTally   `json:"commands"`
	Errors    []rowError `json:"errors"`
	Seconds   float64    `json:"seconds"`
	Complete  bool       `json:"complete"` // every row was processed (not interrupted)
}

type cmdTally struct {
	Sent       int `json:"sent"`
	Accepted   int `json:"accepted"`
	Duplicates int `json:"already_done"`
	Rejected   int `json:"rejected"`
	Failed     int `json:"failed"`
}

func (a *app) importCmd() *cobra.Command {
	var o importOptions
	c := &cobra.Command{
		Use:   "import <file.jsonl|file.csv>",
		Short: "Bulk-create persons from a CSV or JSON-lines file, re-runnable without duplicates",
		Long: `import creates one person per row (create_person), then adds its email and
phone (add_email, add_phone) once the create is accepted. --concurrency rows
are in flight at once, and each waits for a command's result before its
next command: the fleet's pace sets the import's (back-pressure). A progress
bar with rate and ETA is drawn on stderr when it is a terminal. Errors are
reported per row at the end (the row is the line number in the file);
--json prints the whole report as JSON.

Columns (CSV header) or members (one JSON object per line):
  import_id, given_name, family_name, middle_names (CSV: space separated),
  preferred_name, honorific, suffix, full_name (split when the name
  columns are empty), email, phone, country_code; JSONL may give "name"
  as an object ({"given_name":…,"family_name":…}).

Re-running is safe. Every id derives from the row:
  key       = "import_id:" + source + US + import_id     (a row with an import_id)
            = "row:" + source + US + canonical JSON of the row's name, email, phone, country code
  person_id = UUIDv5(ns, key)       command ids = UUIDv5(ns, person_id + "/create_person"),
  UUIDv5(ns, person_id + "/add_email/" + email), UUIDv5(ns, person_id + "/add_phone/" + cc + "/" + phone)
with ns = ` + ImportNamespace.String() + ` and US = \x1f. A re-run sends the
same command ids: the server drops them as duplicates inside the commands
stream's duplicate window, and the aggregate answers "duplicate" (or
person_already_exists / component_exists) after it; all of these count as
already imported, not as errors. Give an import_id column: without one, a
corrected typo makes the row a new person.

Exit codes: 0 every row imported (or already), 1 some rows failed or the
import was interrupted, 2 bad usage or an unreadable file.`,
		Example: `  personctl import persons.csv --source crm
  personctl import persons.jsonl --concurrency 64 --json > report.json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.concurrency < 1 {
				return withCode(ExitUsage, errors.New("--concurrency must be at least 1"))
			}
			if err := checkText(o.source); err != nil {
				return withCode(ExitUsage, fmt.Errorf("--source: %w", err))
			}
			return a.runImport(cmd.Context(), args[0], o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.source, "source", "import", "source system recorded on every person (part of the derived ids: keep it across re-runs)")
	f.StringVar(&o.format, "format", "auto", "file format: csv, jsonl or auto (by extension)")
	f.IntVar(&o.concurrency, "concurrency", 32, "rows in flight at once")
	f.StringVar(&o.actor, "actor", "personctl-import", "actor of the commands")
	return c
}

func checkText(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

// rowSource yields the rows of a file with their line numbers.
type rowSource interface {
	next() (row importRow, line int, err error) // io.EOF at the end; other errors are row errors
}

func fileFormat(path, format string) (string, error) {
	switch format {
	case "csv", "jsonl":
		return format, nil
	case "auto", "":
	default:
		return "", fmt.Errorf("--format %q: use csv, jsonl or auto", format)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return "csv", nil
	case ".jsonl", ".ndjson", ".json":
		return "jsonl", nil
	}
	return "", fmt.Errorf("%s: cannot tell the format from the extension: give --format csv or jsonl", path)
}

func openRows(r io.Reader, format string) (rowSource, error) {
	if format == "csv" {
		return newCSVRows(r)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	return &jsonlRows{sc: sc}, nil
}

type jsonlRows struct {
	sc   *bufio.Scanner
	line int
}

func (j *jsonlRows) next() (importRow, int, error) {
	for j.sc.Scan() {
		j.line++
		b := bytes.TrimSpace(j.sc.Bytes())
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		var r importRow
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return r, j.line, err
		}
		return r, j.line, nil
	}
	if err := j.sc.Err(); err != nil {
		return importRow{}, j.line, fmt.Errorf("%w: %w", errFatal, err)
	}
	return importRow{}, j.line, io.EOF
}

// errFatal marks a read error that ends the import (not a row's error).
var errFatal = errors.New("reading the file")

type csvRows struct {
	r   *csv.Reader
	col map[string]int
}

func newCSVRows(r io.Reader) (*csvRows, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		known := false
		for _, c := range csvColumns {
			known = known || c == h
		}
		if !known {
			return nil, fmt.Errorf("CSV column %q is not one of %s", h, strings.Join(csvColumns, ", "))
		}
		col[h] = i
	}
	return &csvRows{r: cr, col: col}, nil
}

func (c *csvRows) next() (importRow, int, error) {
	rec, err := c.r.Read()
	line, _ := c.r.FieldPos(0)
	if errors.Is(err, io.EOF) {
		return importRow{}, line, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return importRow{}, pe.StartLine, err
	}
	if err != nil {
		return importRow{}, line, fmt.Errorf("%w: %w", errFatal, err)
	}
	get := func(name string) string {
		if i, ok := c.col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	r := importRow{
		ImportID: get("import_id"), GivenName: get("given_name"), FamilyName: get("family_name"),
		PreferredName: get("preferred_name"), Honorific: get("honorific"), Suffix: get("suffix"),
		FullName: get("full_name"), Email: get("email"), Phone: get("phone"), CountryCode: get("country_code"),
	}
	if m := get("middle_names"); m != "" {
		r.MiddleNames = strings.Fields(m)
	}
	return r, line, nil
}

// countRows counts the rows for the progress bar's ETA (a quick first pass).
func countRows(path, format string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	src, err := openRows(f, format)
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		_, _, err := src.next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if errors.Is(err, errFatal) {
			return n, err
		}
		n++
	}
}

type importJob struct {
	row  importRow
	line int
	err  error // the row could not be read
}

func (a *app) runImport(ctx context.Context, path string, o importOptions) error {
	format, err := fileFormat(path, o.format)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	total, err := countRows(path, format)
	if err != nil {
		return withCode(ExitUsage, fmt.Errorf("%s: %w", path, err))
	}
	f, err := os.Open(path)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	defer func() { _ = f.Close() }()
	src, err := openRows(f, format)
	if err != nil {
		return withCode(ExitUsage, fmt.Errorf("%s: %w", path, err))
	}
	cl, done, err := a.connect()
	if err != nil {
		return err
	}
	defer done()

	rep := &importReport{File: path, Source: o.source, Rows: total, Errors: []rowError{}}
	var mu sync.Mutex
	bar := a.newProgress(int64(total), "import", "rows")
	start := time.Now()
	jobs := make(chan importJob, o.concurrency)
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Go(func() {
			for j := range jobs {
				res := a.importOne(ctx, cl, o, j)
				mu.Lock()
				rep.add(res)
				mu.Unlock()
				bar.add(1)
			}
		})
	}
	var readErr error
feed:
	for {
		row, line, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errFatal) {
			readErr = err
			break
		}
		select {
		case jobs <- importJob{row: row, line: line, err: err}:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	bar.finish()
	rep.Seconds = time.Since(start).Seconds()
	rep.Complete = readErr == nil && ctx.Err() == nil && rep.Processed == total
	sort.Slice(rep.Errors, func(i, j int) bool { return rep.Errors[i].Row < rep.Errors[j].Row })
	if a.json {
		_ = printJSON(a.out, rep)
	} else {
		a.printImport(rep)
	}
	switch {
	case readErr != nil:
		return fmt.Errorf("%s: %w", path, readErr)
	case ctx.Err() != nil:
		return fmt.Errorf("import interrupted after %d of %d rows (re-run it: done rows are skipped): %w", rep.Processed, total, ctx.Err())
	case rep.Failed > 0:
		return withCode(ExitFailure, fmt.Errorf("%d of %d rows failed", rep.Failed, total))
	}
	return nil
}

// rowResult is what importing one row did.
type rowResult struct {
	created, already bool
	cmds             cmdTally
	errs             []rowError
	interrupted      bool
}

func (r *importReport) add(res rowResult) {
	if res.interrupted {
		return
	}
	r.Processed++
	switch {
	case len(res.errs) > 0:
		r.Failed++
	case res.created:
		r.Created++
	case res.already:
		r.Already++
	}
	r.Commands.Sent += res.cmds.Sent
	r.Commands.Accepted += res.cmds.Accepted
	r.Commands.Duplicates += res.cmds.Duplicates
	r.Commands.Rejected += res.cmds.Rejected
	r.Commands.Failed += res.cmds.Failed
	r.Errors = append(r.Errors, res.errs...)
}

// importOne sends a row's commands one after the other, each after the
// previous one's final result.
func (a *app) importOne(ctx context.Context, cl *client.Client, o importOptions, j importJob) rowResult {
	var res rowResult
	if ctx.Err() != nil {
		res.interrupted = true
		return res
	}
	if j.err != nil {
		res.errs = append(res.errs, rowError{Row: j.line, Code: "malformed_row", Message: j.err.Error()})
		return res
	}
	ids := ImportKey(o.source, &j.row)
	fail := func(cmd, code, msg string) {
		res.errs = append(res.errs, rowError{Row: j.line, PersonID: ids.PersonID, Command: cmd, Code: code, Message: msg})
	}
	// send reports whether the command is done (accepted now or before).
	send := func(id string, cmd person.Command, alreadyCodes ...string) (ok, before bool) {
		data, err := json.Marshal(cmd)
		if err != nil {
			fail(string(cmd.CommandType()), "invalid_command", err.Error())
			return false, false
		}
		env := contract.CommandEnvelope{CommandID: id, Type: string(cmd.CommandType()), PersonID: ids.PersonID, Data: data,
			CorrelationID: ids.Create, Actor: o.actor}
		cctx, cancel := context.WithTimeout(ctx, a.timeout)
		defer cancel()
		res.cmds.Sent++
		r, resubmitted, err := cl.Submit(cctx, env, nil, nil)
		if err != nil {
			if ctx.Err() != nil {
				res.interrupted = true
				return false, false
			}
			fail(env.Type, "no_result", err.Error())
			return false, false
		}
		switch r.Status {
		case contract.StatusAccepted:
			if resubmitted || r.Duplicate {
				res.cmds.Duplicates++
				return true, true
			}
			res.cmds.Accepted++
			return true, false
		case contract.StatusRejected:
			code, msg := "", ""
			if r.Error != nil {
				code, msg = r.Error.Code, r.Error.Message
			}
			for _, c := range alreadyCodes {
				if code == c {
					res.cmds.Duplicates++
					return true, true
				}
			}
			res.cmds.Rejected++
			fail(env.Type, code, msg)
		default:
			res.cmds.Failed++
			code, msg := string(r.Status), ""
			if r.Error != nil {
				code, msg = r.Error.Code, r.Error.Message
			}
			fail(env.Type, code, msg)
		}
		return false, false
	}
	ok, before := send(ids.Create, &person.CreatePerson{Name: j.row.name(), Source: o.source, ImportID: strings.TrimSpace(j.row.ImportID)},
		"person_already_exists")
	if !ok {
		return res
	}
	res.created, res.already = !before, before
	if ids.AddEmail != "" && !res.interrupted {
		send(ids.AddEmail, &person.AddEmail{Email: strings.TrimSpace(j.row.Email)}, "component_exists")
	}
	if ids.AddPhone != "" && !res.interrupted {
		send(ids.AddPhone, &person.AddPhone{Number: strings.TrimSpace(j.row.Phone), CountryCode: strings.TrimSpace(j.row.CountryCode)}, "component_exists")
	}
	return res
}

func (a *app) printImport(r *importReport) {
	rate := 0.0
	if r.Seconds > 0 {
		rate = float64(r.Processed) / r.Seconds
	}
	fmt.Fprintf(a.out, "import %s (source %q): %d of %d rows in %.1f s (%.0f rows/s)\n", r.File, r.Source, r.Processed, r.Rows, r.Seconds, rate)
	fmt.Fprintf(a.out, "  created %d   already imported %d   failed %d\n", r.Created, r.Already, r.Failed)
	fmt.Fprintf(a.out, "  commands sent %d: accepted %d, already done %d, rejected %d, failed %d\n",
		r.Commands.Sent, r.Commands.Accepted, r.Commands.Duplicates, r.Commands.Rejected, r.Commands.Failed)
	if len(r.Errors) == 0 {
		return
	}
	fmt.Fprintf(a.out, "\n%d errors:\n", len(r.Errors))
	t := newTable(a.out, "ROW", "PERSON_ID", "COMMAND", "CODE", "MESSAGE")
	for _, e := range r.Errors {
		t.row(e.Row, e.PersonID, e.Command, e.Code, truncate(e.Message, 100))
	}
	t.flush()
}
