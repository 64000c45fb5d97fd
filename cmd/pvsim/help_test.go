package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allCommands are the commands a user can ask for help on.
var allCommands = []string{
	"run", "test", "compare", "race", "explore", "explore merge", "scenarios", "list",
	"bench hypercall", "bench pin", "bench ptwr", "bench reset", "help",
}

// flagName matches a flag in the flag package's PrintDefaults output.
var flagName = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)

// Every command answers -h, -help and --help with its usage on stdout and
// status 0, even when it needs arguments it was not given.
func TestCommandHelp(t *testing.T) {
	for _, name := range append(allCommands, "bench") {
		for _, h := range []string{"-h", "-help", "--help"} {
			args := append(strings.Fields(name), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				status, stdout, stderr := pvsim(args...)
				assert.Equal(t, exitOK, status, stderr)
				assert.Empty(t, stderr)
				if name == "help" {
					assert.Contains(t, stdout, "\nUsage:\n  pvsim run")
					return
				}
				want := "Usage: pvsim " + name
				assert.True(t, strings.HasPrefix(stdout, want), "stdout does not begin with %q:\n%s", want, stdout)
			})
		}
	}
}

// The flags of each command's -h are the flags its flag set defines.
func TestCommandHelpFlags(t *testing.T) {
	for _, tt := range []struct {
		cmd   string
		flags []string
	}{
		{"run", []string{"audit", "audit-every", "console", "console-in", "initrd", "json", "mem", "schedule", "timeout", "trace", "vcpus"}},
		{"test", []string{"audit", "j", "json", "junit", "mem", "timeout", "vcpus"}},
		{"list", nil},
		{"explore merge", []string{"json"}},
		{"scenarios", []string{"bound", "budget", "json", "stress", "workers"}},
		{"bench pin", []string{"json", "max", "reps"}},
		{"bench ptwr", []string{"baseline-src", "json", "load", "reps", "rounds"}},
	} {
		t.Run(tt.cmd, func(t *testing.T) {
			status, stdout, _ := pvsim(append(strings.Fields(tt.cmd), "-h")...)
			require.Equal(t, exitOK, status)
			var got []string
			for _, m := range flagName.FindAllStringSubmatch(stdout, -1) {
				got = append(got, m[1])
			}
			assert.Equal(t, tt.flags, got)
		})
	}
}

// A flag a command does not have stays a usage error.
func TestUnknownFlag(t *testing.T) {
	for _, name := range allCommands {
		if name == "help" {
			continue
		}
		args := append(strings.Fields(name), "--no-such-flag")
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			status, stdout, stderr := pvsim(args...)
			assert.Equal(t, exitUsage, status)
			assert.Empty(t, stdout)
			assert.Equal(t, "pvsim: flag provided but not defined: -no-such-flag (see 'pvsim "+name+" -h')\n", stderr)
		})
	}
}

// pvsim help COMMAND is pvsim COMMAND -h.
func TestHelpCommand(t *testing.T) {
	for _, name := range allCommands {
		t.Run(name, func(t *testing.T) {
			status, stdout, stderr := pvsim(append([]string{"help"}, strings.Fields(name)...)...)
			assert.Equal(t, exitOK, status, stderr)
			_, want, _ := pvsim(append(strings.Fields(name), "-h")...)
			assert.Equal(t, want, stdout)
		})
	}
	status, _, stderr := pvsim("help", "frobnicate")
	assert.Equal(t, exitUsage, status)
	assert.Contains(t, stderr, `unknown command "frobnicate"`)
}

// pvsim help lists every command, with every flag its -h shows.
func TestHelpListsEveryFlag(t *testing.T) {
	status, help, _ := pvsim("help")
	require.Equal(t, exitOK, status)
	for _, name := range allCommands {
		t.Run(name, func(t *testing.T) {
			at := regexp.MustCompile(`\n  pvsim ` + name + `[ \n]`).FindStringIndex(help)
			require.NotNil(t, at, "no %q in:\n%s", name, help)
			section := help[at[0]+1:]
			section, _, _ = strings.Cut(section, "\n\n")
			if end := strings.Index(section, "\n  pvsim "); end >= 0 {
				section = section[:end]
			}
			_, usage, _ := pvsim(append(strings.Fields(name), "-h")...)
			for _, m := range flagName.FindAllStringSubmatch(usage, -1) {
				dashes := "--"
				if len(m[1]) == 1 {
					dashes = "-" // a one-letter flag, as -j, is written so
				}
				assert.Regexp(t, `[ \[]`+dashes+m[1]+`[ \]=]`, section, "help for %s", name) // --prune=false for a flag on by default
			}
			lines := strings.Split(section, "\n")
			summary := lines[len(lines)-1]
			assert.Regexp(t, `^        [a-z]`, summary, "the last line of %q is its one-line summary", name)
		})
	}
}

// The usage block of the package's doc comment is the synopses pvsim help
// prints.
func TestDocCommentUsage(t *testing.T) {
	src, err := os.ReadFile("main.go")
	require.NoError(t, err)
	var doc []string
	for _, l := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(l, "package ") {
			break
		}
		if s, ok := strings.CutPrefix(l, "//\t"); ok {
			doc = append(doc, s)
		}
	}
	var want []string
	for _, c := range commands {
		want = append(want, c.synopsis(""))
	}
	assert.Equal(t, strings.Join(want, "\n"), strings.Join(doc, "\n"))
}
