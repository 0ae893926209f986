// Package config reads settings from the environment (prefix MIRROR_AGENT_)
// and from flags, flags winning, and reports a bad value in one line that
// names the setting.
//
// A settings struct declares each field once:
//
//	Interval time.Duration `env:"INTERVAL" envDefault:"1s" flag:"interval" help:"time between probes"`
//
// Load parses the environment with caarlos0/env, then the flags on top.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Prefix starts every environment variable the agent reads.
const Prefix = "MIRROR_AGENT_"

// Error is a bad setting: the message names the flag and the env variable.
type Error struct {
	Flag    string // without dashes
	Env     string
	Value   string
	FromEnv bool // the bad value came from the environment
	Err     error
}

func (e *Error) Error() string {
	if e.FromEnv {
		return fmt.Sprintf("invalid %s=%q (flag --%s): %v", e.Env, e.Value, e.Flag, e.Err)
	}
	return fmt.Sprintf("invalid --%s %q (env %s): %v", e.Flag, e.Value, e.Env, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorProblem holds a settings error to the project's rule: one line,
// naming the setting at fault (or the argument, for one that is not a
// setting). It returns what is wrong with err, or "" when it keeps the
// rule; --help (flag.ErrHelp) keeps it.
func ErrorProblem(err error) string {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return ""
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		return fmt.Sprintf("error is not one line: %q", msg)
	}
	var se *Error
	if errors.As(err, &se) {
		if !strings.Contains(msg, "--"+se.Flag) && !strings.Contains(msg, se.Env) {
			return fmt.Sprintf("error does not name its setting: %q", msg)
		}
		return ""
	}
	for _, ok := range []string{"unknown flag ", "unexpected argument ", "bad flag ", "flag needs an argument", "environment: ", "cannot find the agent"} {
		if strings.HasPrefix(msg, ok) {
			return ""
		}
	}
	return fmt.Sprintf("error neither names a setting nor the argument at fault: %q", msg)
}

// Setting describes one field for help and error messages.
type Setting struct {
	Flag    string
	Env     string
	Default string
	Help    string
	Kind    string // "duration", "int", "bool", "string", "list"
	field   []int
}

// Settings lists the settings of a struct pointer in declaration order.
func Settings(cfg any) ([]Setting, error) {
	params, err := env.GetFieldParamsWithOptions(cfg, env.Options{Prefix: Prefix})
	if err != nil {
		return nil, err
	}
	byKey := map[string]env.FieldParams{}
	for _, p := range params {
		byKey[p.Key] = p
	}
	t := reflect.TypeOf(cfg).Elem()
	var out []Setting
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("flag")
		if name == "" {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		p := byKey[Prefix+key]
		out = append(out, Setting{
			Flag: name, Env: Prefix + key, Default: p.DefaultValue,
			Help: f.Tag.Get("help"), Kind: kindOf(f.Type), field: f.Index,
		})
	}
	return out, nil
}

func kindOf(t reflect.Type) string {
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		return "duration"
	case t.Kind() == reflect.Int:
		return "int"
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "list"
	default:
		return "string"
	}
}

// Load fills cfg (a pointer to a settings struct) from environ (as in
// os.Environ) and then from args. It returns the remaining positional
// arguments. flag.ErrHelp is returned as is after writing usage to help.
func Load(cfg any, name, synopsis string, args, environ []string, help io.Writer) ([]string, error) {
	rest, _, err := LoadFlags(cfg, name, synopsis, args, environ, help)
	return rest, err
}

// LoadFlags is Load that also reports which flags were given (by name,
// without dashes).
func LoadFlags(cfg any, name, synopsis string, args, environ []string, help io.Writer) ([]string, map[string]bool, error) {
	settings, err := Settings(cfg)
	if err != nil {
		return nil, nil, err
	}
	envMap := env.ToMap(environ)
	if err := env.ParseWithOptions(cfg, env.Options{Prefix: Prefix, Environment: envMap}); err != nil {
		return nil, nil, envError(cfg, settings, envMap, err)
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	v := reflect.ValueOf(cfg).Elem()
	for _, s := range settings {
		fs.Var(&fieldValue{v: v.FieldByIndex(s.field), kind: s.Kind}, s.Flag, s.Help)
	}
	// Flags may come before, between or after the positional arguments
	// (`maintenance on --admin-socket PATH` as much as `maintenance
	// --admin-socket PATH on`), as in most CLIs; "--" ends the flags.
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				Usage(help, name, synopsis, settings)
				return nil, nil, err
			}
			return nil, nil, flagError(settings, err)
		}
		left := fs.Args()
		if len(left) == 0 {
			break
		}
		if i := len(args) - len(left) - 1; i >= 0 && args[i] == "--" {
			rest = append(rest, left...) // after "--", all positional
			break
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return rest, set, nil
}

// Usage writes the help text: each flag with its env variable and default.
func Usage(w io.Writer, name, synopsis string, settings []Setting) {
	fmt.Fprintf(w, "%s\n\nSettings (a flag wins over its environment variable):\n", synopsis)
	width := 0
	cols := make([]string, len(settings))
	for i, s := range settings {
		cols[i] = "--" + s.Flag
		if s.Kind != "bool" {
			cols[i] += " " + s.Kind
		}
		width = max(width, len(cols[i]))
	}
	for i, s := range settings {
		def := s.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  %-*s  %s (default %s)\n      %s\n", width, cols[i], s.Env, def, s.Help)
	}
}

func envError(cfg any, settings []Setting, envMap map[string]string, err error) error {
	var agg env.AggregateError
	if errors.As(err, &agg) && len(agg.Errors) > 0 {
		err = agg.Errors[0]
	}
	var pe env.ParseError
	if errors.As(err, &pe) {
		t := reflect.TypeOf(cfg).Elem()
		for _, s := range settings {
			if t.FieldByIndex(s.field).Name == pe.Name {
				return &Error{Flag: s.Flag, Env: s.Env, Value: envMap[s.Env], FromEnv: true, Err: cleanParseErr(s.Kind, pe.Err)}
			}
		}
	}
	return fmt.Errorf("environment: %w", err)
}

// flagError rewrites the flag package's message into our one-line form.
func flagError(settings []Setting, err error) error {
	msg := err.Error()
	// flag: `invalid value "x" for flag -interval: <why>`, and for a bool
	// given with '=': `invalid boolean value "x" for -direct: <why>`
	rest, ok := strings.CutPrefix(msg, "invalid value ")
	marker := " for flag -"
	if !ok {
		rest, ok = strings.CutPrefix(msg, "invalid boolean value ")
		marker = " for -"
	}
	if ok {
		for _, s := range settings {
			marker := marker + s.Flag + ": "
			if i := strings.Index(rest, marker); i > 0 {
				val, uerr := strconv.Unquote(rest[:i])
				if uerr != nil {
					val = rest[:i]
				}
				return &Error{Flag: s.Flag, Env: s.Env, Value: val, Err: errors.New(rest[i+len(marker):])}
			}
		}
	}
	if rest, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return fmt.Errorf("unknown flag %q (see --help)", rest)
	}
	// The flag package quotes nothing in its other messages ("bad flag
	// syntax: ---x"); an argument can hold a line break.
	q := strconv.QuoteToASCII(msg)
	return errors.New(q[1 : len(q)-1])
}

// cleanParseErr gives env parse errors the same words as flag ones.
func cleanParseErr(kind string, err error) error {
	switch kind {
	case "duration":
		return errDuration
	case "int":
		return errInt
	case "bool":
		return errBool
	}
	return err
}

var (
	errDuration = errors.New("not a duration (use 500ms, 2s, 1m)")
	errInt      = errors.New("not a whole number")
	errBool     = errors.New("not true or false")
)

// fieldValue adapts a struct field to flag.Value.
type fieldValue struct {
	v       reflect.Value
	kind    string
	touched bool // a list flag replaces the env value on first use
}

func (f *fieldValue) String() string {
	if !f.v.IsValid() {
		return ""
	}
	if f.kind == "list" {
		return strings.Join(f.v.Interface().([]string), ",")
	}
	return fmt.Sprint(f.v.Interface())
}

func (f *fieldValue) IsBoolFlag() bool { return f.kind == "bool" }

func (f *fieldValue) Set(s string) error {
	switch f.kind {
	case "duration":
		d, err := time.ParseDuration(s)
		if err != nil {
			return errDuration
		}
		f.v.SetInt(int64(d))
	case "int":
		n, err := strconv.Atoi(s)
		if err != nil {
			return errInt
		}
		f.v.SetInt(int64(n))
	case "bool":
		b, err := strconv.ParseBool(s)
		if err != nil {
			return errBool
		}
		f.v.SetBool(b)
	case "list":
		var cur []string
		if f.touched {
			cur = f.v.Interface().([]string)
		}
		f.touched = true
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				cur = append(cur, part)
			}
		}
		f.v.Set(reflect.ValueOf(cur))
	default:
		f.v.SetString(s)
	}
	return nil
}
