// Package cli gives Landfall's binaries one way to take configuration:
// command-line flags, environment variables and an optional YAML file, in
// that order of precedence, all described by one flag.FlagSet so that
// --help documents every option once.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ConfigFlag is the flag naming the optional YAML file.
const ConfigFlag = "config"

// Parse parses args into fs. An option not given on the command line is
// taken from the environment variable PREFIX_NAME (NAME upper-cased, dashes
// as underscores), else from the YAML file named by --config (or
// PREFIX_CONFIG), whose keys are the flag names. Unknown YAML keys are
// errors, so that a typo never passes silently.
func Parse(fs *flag.FlagSet, args []string, envPrefix string, getenv func(string) string) error {
	if fs.Lookup(ConfigFlag) == nil {
		fs.String(ConfigFlag, "", "YAML file with options (keys are the flag names); flags and environment win")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var firstErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || firstErr != nil {
			return
		}
		if v := getenv(EnvName(envPrefix, f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				firstErr = fmt.Errorf("%s: %w", EnvName(envPrefix, f.Name), err)
			}
			set[f.Name] = true
		}
	})
	if firstErr != nil {
		return firstErr
	}
	path := fs.Lookup(ConfigFlag).Value.String()
	if path == "" {
		return nil
	}
	values, err := readYAML(path)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if fs.Lookup(k) == nil || k == ConfigFlag {
			return fmt.Errorf("%s: unknown option %q", path, k)
		}
		if set[k] {
			continue
		}
		if err := fs.Set(k, values[k]); err != nil {
			return fmt.Errorf("%s: %s: %w", path, k, err)
		}
	}
	return nil
}

// EnvName is the environment variable for flag name.
func EnvName(prefix, name string) string {
	return prefix + "_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func readYAML(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			out[k] = strings.Join(parts, ",")
		case map[string]any:
			return nil, fmt.Errorf("%s: option %q must be a scalar or a list", path, k)
		case nil:
			out[k] = ""
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out, nil
}

// Usage returns a flag.FlagSet Usage function that prints synopsis and
// every option with its environment variable.
func Usage(w io.Writer, fs *flag.FlagSet, envPrefix, synopsis string) func() {
	return func() {
		fmt.Fprintf(w, "%s\n\nOptions (each also from the environment variable shown, or from the --config YAML file):\n", synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			name, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(w, "  --%s", f.Name)
			if name != "" {
				fmt.Fprintf(w, " %s", name)
			}
			fmt.Fprintf(w, "\n      %s", strings.ReplaceAll(usage, "\n", "\n      "))
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
				fmt.Fprintf(w, " (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "\n      env %s\n", EnvName(envPrefix, f.Name))
		})
	}
}

// ErrHelp is returned by Parse when --help was asked for.
var ErrHelp = flag.ErrHelp

// IsHelp reports whether err means usage was printed on request.
func IsHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }
