package xtf

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		src  string
		want Config
	}{
		{"empty", "", Config{}},
		{"comments and blanks", "# nothing here\n\n   \t# nor here\n", Config{}},
		{
			"an XTF test's",
			"name=\"test-pv64-widget\"\n\nvcpus=2 \n\ntype=\"pv\"\nloader=\"generic\" # a setting pvsim does not read\n\nmemory=128\nkernel=\"/xtf/tests/widget/test-pv64-widget\"\n",
			Config{Name: "test-pv64-widget", Type: "pv", VCPUs: 2, Memory: 128, Kernel: "/xtf/tests/widget/test-pv64-widget"},
		},
		{
			"spaces, single quotes, semicolons, CRLF",
			"name = 'a#b' ; vcpus = 1\r\nextra = \"x=1 y=\\\"2\\\"\" # comment\r\n",
			Config{Name: "a#b", VCPUs: 1, Extra: `x=1 y="2"`},
		},
		{"a quoted number", `memory = "64"`, Config{Memory: 64}},
		{"cmdline and extra", "extra=\"a\"\ncmdline=\"b\"\n", Config{Extra: "a", Cmdline: "b"}},
		{
			"unknown settings, lists over lines",
			"viridian = 1\ndisk = [ 'a',\n  # a comment in a list\n  \"b\", [1, 2],\n]\nvif = []\ncpuid += [ \"host\" ]\nhap = 0x10\nname = \"n\"",
			Config{Name: "n"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig("t.cfg", []byte(tt.src))
			require.NoError(t, err)
			assert.Equal(t, tt.want, c)
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		src  string
		line int
		msg  string
	}{
		{"vcpus", 1, "want = after vcpus, not the end of the file"},
		{"name=\"a\"\nvcpus 2\n", 2, "want = after vcpus, not the number 2"},
		{"\n\nmemory=128M\n", 3, `"128M" is not a number`},
		{"memory=0\n", 1, "memory: want a positive decimal number, not the number 0"},
		{"memory=0x80\n", 1, "memory: want a positive decimal number, not the number 0x80"},
		{"vcpus=\"two\"\n", 1, "vcpus: want a positive decimal number, not a string"},
		{"vcpus=99999999999\n", 1, "vcpus: want a positive decimal number"},
		{"vcpus=[1]\n", 1, "vcpus: want a number, not a list"},
		{"name=test\n", 1, `want a value (a number, a quoted string or a [list]), not "test"`},
		{"name=1\n", 1, "name: want a quoted string, not the number 1"},
		{"name=\"a\" \"b\"\n", 1, "want the end of the line after name's value, not a string"},
		{"name=\"a\nb\"\n", 1, "unterminated string"},
		{"name='a\n", 1, "unterminated string"},
		{`name="a\q"`, 1, `unknown escape "\\q" in a string`},
		{"x=1\nname=\"a\"\nname=\"b\"\n", 3, "name is set twice (first on line 2)"},
		{"extra+=\"a\"\n", 1, "extra: += appends to lists; extra is not one"},
		{"disk=['a' 'b']\n", 1, "want , or ] in the list begun on line 1, not a string"},
		{"disk=['a',\n'b'\n", 3, "want , or ] in the list begun on line 1, not the end of the file"},
		{"= 1\n", 1, `want a setting (KEY = VALUE), not "="`},
		{"vcpus = 1 +\n", 1, `unexpected '+'`},
		{"vcpus: 1\n", 1, `unexpected ':'`},
	} {
		t.Run(tt.src, func(t *testing.T) {
			_, err := ParseConfig("dir/t.cfg", []byte(tt.src))
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "%v", err)
			assert.Equal(t, "dir/t.cfg", ce.File)
			assert.Equal(t, tt.line, ce.Line)
			assert.Contains(t, ce.Msg, tt.msg)
			assert.True(t, strings.HasPrefix(err.Error(), "dir/t.cfg:"), err.Error())
		})
	}
}

func TestCommandLine(t *testing.T) {
	assert.Equal(t, "", Config{}.CommandLine())
	assert.Equal(t, "a", Config{Extra: "a"}.CommandLine())
	assert.Equal(t, "b", Config{Extra: "a", Cmdline: "b"}.CommandLine())
}

func TestConfigString(t *testing.T) {
	c := Config{Name: "n\"\\\n", Type: "pv", Kernel: "k", Extra: "e\t\r", Cmdline: "c", VCPUs: 3, Memory: 64}
	again, err := ParseConfig("s.cfg", []byte(c.String()))
	require.NoError(t, err, c.String())
	assert.Equal(t, c, again)
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("name=\"test-pv64-x\"\nvcpus=1\ntype=\"pv\"\nmemory=128\nkernel=\"/k\"\n"))
	f.Add([]byte("disk = [ 'a', \"b\\n\",\n ]; extra='x' # c\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := ParseConfig("f.cfg", src)
		if err != nil {
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "%T %v", err, err)
			require.GreaterOrEqual(t, ce.Line, 1)
			require.LessOrEqual(t, ce.Line, strings.Count(string(src), "\n")+1)
			return
		}
		require.GreaterOrEqual(t, c.VCPUs, 0)
		require.GreaterOrEqual(t, c.Memory, 0)
		again, err := ParseConfig("f.cfg", []byte(c.String()))
		require.NoError(t, err, "%q printed as %q", src, c.String())
		require.Equal(t, c, again)
	})
}
