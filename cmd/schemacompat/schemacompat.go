// Package schemacompat is the `deimos schema-compat` command.
package schemacompat

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/compat"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/registry"
)

// Options are `schema-compat`'s flags and arguments; validate fills the
// parsed ones.
type Options struct {
	Args    []string    // files, directories or paths
	Mode    compat.Mode // --mode, parsed
	ModeSet bool        // --mode was given (else a registry subject's own level is used)
	Type    compat.Type // --type, parsed ("" : detect)

	mode, typ, against, subject, topic string
	output                             cmdutil.Format
	protoPaths, refs                   []string
	allowDeleted, strictDefaults       bool
	cpuProfile                         string
	concurrency                        int
	timeout                            time.Duration
}

// NewCmd returns the `schema-compat` command; runF replaces the run (tests).
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	o := &Options{}
	c := &cobra.Command{
		Use:   "schema-compat [--mode MODE] [--type avro|protobuf|json] OLD… NEW | --against git:REF PATH… | --against registry [--subject S] FILE…",
		Short: "Check Avro/Protobuf/JSON Schema compatibility",
		Long: `Check that a new schema version is compatible with earlier ones, with the
verdicts of the reference implementations: Apache Avro's schema-resolution
rules (as Java's SchemaCompatibility applies them) for Avro, and the Confluent
Schema Registry's rules for Protobuf and JSON Schema (content models, as in
PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL; drafts 4 to 2020-12).

MODE is a Confluent compatibility level: BACKWARD (default: the new schema can
read data written with the previous one), BACKWARD_TRANSITIVE (… with every
earlier one), FORWARD, FORWARD_TRANSITIVE (earlier schemas can read new data),
FULL, FULL_TRANSITIVE (both), NONE.

Inputs:
  OLD… NEW                 files in version order, or one directory whose
                           .avsc/.proto/.json files are the versions in natural order
  --against git:REF PATH…  each working-tree file (or every schema under a
                           directory) against the same path at REF (for CI);
                           a schema file deleted since REF is a problem unless
                           --allow-deleted (or --mode NONE)
  --against registry FILE… each FILE against the registered versions of a subject
                           (--subject, or --topic with <prefix><topic>-value, or
                           the configured topic whose schema is FILE's name);
                           the subject's own level is used unless --mode is set;
                           subjects are read --concurrency at a time, one
                           request each, every request within --timeout

A single version is compatible (a registry accepts the first version of a
subject): it is checked for validity and reported as nothing to compare.

An Avro field default that does not fit its type (e.g. "null" for
["null","string"], whose default must be null) is a warning and the verdict is
still made, as a registry reads leniently when it checks compatibility (a
current registry refuses to register a new version with one, which the warning
says); --strict-defaults makes it an error (exit 2).

Exit codes: 0 compatible, 1 incompatible, 2 unusable input (bad JSON/proto,
missing file), 3 registry unreachable.`,
		Example: `  deimos schema-compat history/widget/v1.avsc history/widget/v2.avsc
  deimos schema-compat --mode FULL_TRANSITIVE history/widget/
  deimos schema-compat --against git:origin/main schemas/ --output github
  deimos schema-compat --against registry --topic widgets schemas/com/acme/Widget.avsc
  deimos schema-compat --against registry --concurrency 4 --timeout 10s schemas/com/acme/*.avsc
  deimos schema-compat --type protobuf old/order.proto new/order.proto --output json
  deimos schema-compat --strict-defaults history/widget/v1.avsc history/widget/v2.avsc
  deimos schema-compat --mode FULL history/order/v1.json history/order/v2.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Args, o.ModeSet = args, cmd.Flags().Changed("mode")
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			stopProfile, err := cmdutil.StartProfile(o.cpuProfile)
			if err != nil {
				return err
			}
			defer stopProfile()
			return run(cmd.Context(), f, o)
		},
	}
	fl := c.Flags()
	fl.StringVar(&o.mode, "mode", "BACKWARD", "compatibility level: BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE")
	fl.StringVar(&o.typ, "type", "", "schema type: avro, protobuf or json (default: from the extension, then the content)")
	fl.StringVar(&o.against, "against", "", "compare with git:REF or registry instead of files given in order")
	fl.StringVar(&o.subject, "subject", "", "registry subject (with --against registry)")
	fl.StringVar(&o.topic, "topic", "", "topic whose value subject <prefix><topic>-value to use (with --against registry)")
	cmdutil.AddOutputFlag(c, &o.output, formatGitHub)
	fl.StringArrayVar(&o.protoPaths, "proto-path", nil, "extra `DIR` searched for protobuf imports (repeatable)")
	fl.StringArrayVar(&o.refs, "ref", nil, "extra .avsc `FILE` defining named types the schemas reference (repeatable)")
	fl.BoolVar(&o.allowDeleted, "allow-deleted", false, "with --against git:REF, do not fail on schema files deleted since REF (they are still listed)")
	fl.IntVar(&o.concurrency, "concurrency", compat.DefaultRegistryConcurrency, "with --against registry: how many subjects are read at once")
	fl.DurationVar(&o.timeout, "timeout", 30*time.Second, "with --against registry: give up on a registry request after this long (exit 3; 0: never)")
	cmdutil.AddProfileFlag(fl, &o.cpuProfile)
	fl.BoolVar(&o.strictDefaults, "strict-defaults", false, "an invalid Avro field default in any version is an error (default: a warning, as a registry reads schemas when checking compatibility)")
	return c
}

// report is the JSON output.
type report struct {
	Compatible bool             `json:"compatible"`
	Mode       compat.Mode      `json:"mode"`
	Results    []*compat.Result `json:"results"`
	Skipped    []skipped        `json:"skipped,omitempty"`
}

type skipped struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// validate parses --mode and --type and checks that the inputs fit the
// --against form, before any file, repository or registry is read.
func (o *Options) validate() error {
	var err error
	if o.Mode, err = compat.ParseMode(o.mode); err != nil {
		return err
	}
	if o.Type, err = compat.ParseType(o.typ); err != nil {
		return err
	}
	args := o.Args
	switch {
	case o.against == "":
		if o.subject != "" || o.topic != "" {
			return errs.Usagef("--subject and --topic need --against registry")
		}
		if len(args) < 1 {
			return errs.Usagef("schema-compat: give the versions in order (OLD… NEW) or one directory of versions\nRun 'deimos schema-compat --help' for usage.")
		}
	case strings.HasPrefix(o.against, "git:"):
		if o.against == "git:" || len(args) == 0 {
			return errs.Usagef("schema-compat --against git:REF needs a ref and at least one PATH")
		}
	case o.against == "registry":
		if len(args) == 0 {
			return errs.Usagef("schema-compat --against registry needs at least one FILE")
		}
		if (o.subject != "" || o.topic != "") && len(args) != 1 {
			return errs.Usagef("--subject/--topic name one subject: give exactly one FILE")
		}
	default:
		return errs.Usagef("--against must be git:REF or registry, not %q", o.against)
	}
	return nil
}

func run(ctx context.Context, f *cmdutil.Factory, o *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	mode, typ, args, modeSet := o.Mode, o.Type, o.Args, o.ModeSet
	copts := compat.Options{StrictDefaults: o.strictDefaults}
	lo := compat.LoadOptions{ImportPaths: o.protoPaths, AvroRefs: o.refs, Check: copts}
	if o.against != "registry" && typ != compat.Protobuf {
		// Named types may be defined anywhere under schema.path (Deimos's
		// schema store layout): offer every .avsc there as a reference.
		// The config is optional for file and git inputs.
		if cfg, err := f.Config(); err == nil && cfg != nil && cfg.Schema.Path != "" {
			if st, err := os.Stat(cfg.Schema.Path); err == nil && st.IsDir() {
				tree, err := compat.ExpandPaths([]string{cfg.Schema.Path})
				if err != nil {
					return err
				}
				for _, t := range tree {
					if strings.HasSuffix(strings.ToLower(t), ".avsc") {
						lo.AvroRefs = append(lo.AvroRefs, t)
					}
				}
			}
		}
	}
	rep := &report{Compatible: true, Mode: mode}
	switch {
	case o.against == "":
		versions, err := compat.LoadFiles(args, lo)
		if err != nil {
			return err
		}
		res, err := compat.CheckWith(copts, mode, typ, versions)
		if err != nil {
			return err
		}
		rep.Results = append(rep.Results, res)
	case strings.HasPrefix(o.against, "git:"):
		ref := strings.TrimPrefix(o.against, "git:")
		checks, err := compat.CheckGit(ctx, compat.Git{Ref: ref}, mode, typ, args, lo)
		if err != nil {
			return err
		}
		for _, c := range checks {
			if c.New {
				rep.Skipped = append(rep.Skipped, skipped{Name: c.Path, Reason: "not present at " + ref + " (new schema)"})
				continue
			}
			if c.Deleted && (o.allowDeleted || mode == compat.None) {
				rep.Skipped = append(rep.Skipped, skipped{Name: c.Path, Reason: "deleted (present at " + ref + ")"})
				continue
			}
			rep.Results = append(rep.Results, c.Result)
		}
	case o.against == "registry":
		if err := runRegistry(ctx, f, o, args, typ, mode, modeSet, lo, rep); err != nil {
			return err
		}
	}
	for _, r := range rep.Results {
		if !r.Compatible {
			rep.Compatible = false
		}
		for _, w := range r.Warnings { // also in the JSON results and as GitHub annotations
			note := leniencyNote
			if w.Newest {
				note = newestLeniencyNote
			}
			fmt.Fprintf(f.IO.ErrOut, "warning: %s (%s)\n", w, note)
		}
	}
	if err := render(f.IO, o.output, rep); err != nil {
		return err
	}
	if !rep.Compatible {
		n := 0
		for _, r := range rep.Results {
			n += len(r.Problems)
		}
		return errs.Failedf("schema-compat: incompatible (%d problem(s))", n)
	}
	return nil
}

// leniencyNote explains why an invalid default is only a warning;
// newestLeniencyNote adds, for the version being checked, that registering
// it would fail on a current registry.
const (
	leniencyNote       = "read leniently, as a registry reads the versions it holds; --strict-defaults makes it an error"
	newestLeniencyNote = "read leniently, as a registry does when checking compatibility; a current registry refuses to register a new version with it; --strict-defaults makes it an error"
)

func runRegistry(ctx context.Context, f *cmdutil.Factory, o *Options, args []string, typ compat.Type, mode compat.Mode, modeSet bool, lo compat.LoadOptions, rep *report) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	cl, err := registry.New(cfg.Schema.Registry)
	if err != nil {
		return err
	}
	if cl == nil {
		return errs.Usagef("--against registry needs a registry URL (--registry, DEIMOS_REGISTRY_URL or schema.registry.url)")
	}
	if o.concurrency < 1 {
		return errs.Usagef("--concurrency must be at least 1, not %d", o.concurrency)
	}
	if o.timeout < 0 {
		return errs.Usagef("--timeout must not be negative")
	}
	// --timeout replaces the client's own limit on a request.
	if hc, ok := cl.OptValue(sr.HTTPClient).(*http.Client); ok {
		c := *hc
		c.Timeout = o.timeout
		if cl, err = sr.NewClient(append(cl.Opts(), sr.HTTPClient(&c))...); err != nil {
			return errs.Usagef("schema registry client: %v", err)
		}
	}
	files := make([]compat.RegistryFile, len(args))
	for i, file := range args {
		subject, err := subjectFor(cfg, o, file)
		files[i] = compat.RegistryFile{Path: file, Subject: subject, Err: err}
	}
	checks, err := compat.CheckRegistry(ctx, cl, files, compat.RegistryOptions{
		Mode: mode, ModeSet: modeSet, Type: typ, Load: lo, Concurrency: o.concurrency, Timeout: o.timeout,
	})
	if err != nil {
		return err
	}
	for _, c := range checks {
		if c.NewSubject {
			rep.Skipped = append(rep.Skipped, skipped{Name: c.File.Subject, Reason: "no versions registered (new subject)"})
			continue
		}
		rep.Mode = c.Result.Mode
		rep.Results = append(rep.Results, c.Result)
	}
	return nil
}

func subjectFor(cfg *config.Config, o *Options, file string) (string, error) {
	if o.subject != "" {
		return o.subject, nil
	}
	if o.topic != "" {
		t := o.topic
		if !strings.HasPrefix(t, cfg.Producers.TopicPrefix) {
			t = cfg.Producers.TopicPrefix + t
		}
		return t + "-value", nil
	}
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	short := func(name string) string {
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			return name[i+1:]
		}
		return name
	}
	for _, t := range cfg.Topics {
		if name := short(t.Schema); name == base && name != "" {
			return cfg.Producers.TopicPrefix + t.Name + "-value", nil
		}
	}
	// a key schema: the one gen-keys writes for a field key (<Schema>_key),
	// or a topic's key_config schema; checked against the topic's key
	// subject, named as produce registers it
	for _, t := range cfg.Topics {
		kc := t.KeyConfig
		if (kc.Field != "" && t.Schema != "" && short(t.Schema)+"_key" == base) || (kc.Schema != "" && short(kc.Schema) == base) {
			if cfg.Schema.KeySubject == "unprefixed" {
				return t.Name + "-key", nil
			}
			return cfg.Producers.TopicPrefix + t.Name + "-key", nil
		}
	}
	return "", errs.Usagef("%s: no subject: give --subject or --topic, or configure a topic whose schema (or key schema) is %s", file, base)
}

// formatGitHub is schema-compat's own --output word: GitHub workflow
// annotations (::error file=…,line=…::message).
const formatGitHub cmdutil.Format = "github"

func render(ios *cmdutil.IOStreams, output cmdutil.Format, rep *report) error {
	switch output {
	case cmdutil.FormatJSON:
		return cmdutil.WriteJSON(ios, rep)
	case formatGitHub:
		return renderGitHub(ios.Out, rep)
	}
	return renderText(ios, rep)
}

func renderText(ios *cmdutil.IOStreams, rep *report) error {
	st := ios.Styles()
	w := ios.Out
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "%s %s: %s\n", st.Dim.Render("-"), s.Name, s.Reason)
	}
	for _, r := range rep.Results {
		name := r.Name
		if name == "" && len(r.Checked) > 0 {
			name = r.Checked[0].New
		}
		if r.Compatible {
			detail := "nothing to compare"
			if r.Note != "" {
				detail = r.Note
			}
			if len(r.Checked) > 0 {
				detail = fmt.Sprintf("%d check(s)", len(r.Checked))
			}
			fmt.Fprintf(w, "%s %s: compatible (%s, %s)\n", st.OK.Render("✓"), name, r.Mode, detail)
			continue
		}
		fmt.Fprintf(w, "%s %s: incompatible (%s)\n", st.Bad.Render("✗"), name, r.Mode)
		for _, c := range r.Checked {
			if c.Compatible {
				continue
			}
			switch c.Check {
			case "deleted":
				fmt.Fprintf(w, "  %s is gone from the working tree:\n", c.Old)
			case "backward":
				fmt.Fprintf(w, "  %s cannot read data written with %s:\n", c.New, c.Old)
			default:
				fmt.Fprintf(w, "  data written with %s cannot be read with %s:\n", c.New, c.Old)
			}
			for _, p := range r.Problems {
				if p.Check == c.Check && p.Old == c.Old {
					loc := ""
					if p.Line > 0 {
						loc = st.Dim.Render(fmt.Sprintf(" (%s:%d)", p.File, p.Line))
					}
					fmt.Fprintf(w, "    %s%s\n", p.String(), loc)
				}
			}
		}
	}
	if len(rep.Results) == 0 && len(rep.Skipped) == 0 {
		fmt.Fprintln(w, "nothing to check")
	}
	return nil
}

func ghEscape(s string, prop bool) string {
	s = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
	if prop {
		s = strings.NewReplacer(":", "%3A", ",", "%2C").Replace(s)
	}
	return s
}

func renderGitHub(w io.Writer, rep *report) error {
	for _, r := range rep.Results {
		for _, p := range r.Problems {
			props := []string{}
			if p.File != "" {
				props = append(props, "file="+ghEscape(p.File, true))
			}
			if p.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d", p.Line))
			}
			props = append(props, "title="+ghEscape(fmt.Sprintf("schema-compat %s (%s vs %s)", r.Mode, p.Check, p.Old), true))
			fmt.Fprintf(w, "::error %s::%s\n", strings.Join(props, ","), ghEscape(p.String(), false))
		}
		for _, wn := range r.Warnings {
			props := []string{}
			if wn.File != "" {
				props = append(props, "file="+ghEscape(wn.File, true))
			}
			if wn.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d", wn.Line))
			}
			props = append(props, "title="+ghEscape("schema-compat: invalid default", true))
			fmt.Fprintf(w, "::warning %s::%s\n", strings.Join(props, ","), ghEscape(wn.Message+" ("+leniencyNote+")", false))
		}
		if r.Compatible {
			name := r.Name
			if name == "" && len(r.Checked) > 0 {
				name = r.Checked[0].New
			}
			fmt.Fprintf(w, "%s: compatible (%s)\n", name, r.Mode)
		}
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "::notice title=schema-compat::%s\n", ghEscape(s.Name+": "+s.Reason, false))
	}
	return nil
}
