// Command codegen generates the wgmesh SDKs from schema.json with Pulumi's own code generators
// (github.com/pulumi/pulumi/pkg/v3/codegen/{nodejs,python,go}), pinned to the CLI's version.
//
// `pulumi package gen-sdk` cannot be used here: the language hosts that build on these machines
// lack the GeneratePackage RPC. This program calls the same generators directly.
//
// Usage: codegen --schema schema.json --out sdk/ [--lang nodejs,python,go] [--tool NAME]
// Each language is written to OUT/<lang>/; that directory is replaced as a whole so removed
// resources leave no stale files. Output is deterministic for a given schema and generator version.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/blang/semver"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

// selfContainedLoader is the loader handed to the binder and generators. The wgmesh schema references
// no other package, so any attempt to load one is an error that names the package.
type selfContainedLoader struct{}

func refused(pkg string) error {
	return fmt.Errorf("schema references external package %q; codegen only supports self-contained schemas", pkg)
}

func (selfContainedLoader) LoadPackage(pkg string, _ *semver.Version) (*schema.Package, error) {
	return nil, refused(pkg)
}

func (selfContainedLoader) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, refused(d.Name)
}

func (selfContainedLoader) LoadPackageReference(pkg string, _ *semver.Version) (schema.PackageReference, error) {
	return nil, refused(pkg)
}

func (selfContainedLoader) LoadPackageReferenceV2(
	_ context.Context, d *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	return nil, refused(d.Name)
}

var supported = []string{"nodejs", "python", "go"}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "codegen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("codegen", flag.ContinueOnError)
	schemaPath := fs.String("schema", "", "path to the provider's schema.json (required)")
	outDir := fs.String("out", "", "output directory; each language goes to OUT/<lang> (required)")
	langs := fs.String("lang", strings.Join(supported, ","), "comma-separated languages: "+strings.Join(supported, ","))
	tool := fs.String("tool", "wgmesh-codegen", "tool name written into the generated files' headers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *schemaPath == "" || *outDir == "" {
		fs.Usage()
		return errors.New("--schema and --out are required")
	}
	languages, err := parseLanguages(*langs)
	if err != nil {
		return err
	}

	raw, err := os.ReadFile(*schemaPath)
	if err != nil {
		return fmt.Errorf("reading schema: %w", err)
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("parsing %s: %w", *schemaPath, err)
	}

	for _, lang := range languages {
		// Bind afresh per language: the generators record language info on the bound package.
		pkg, err := bind(spec, *schemaPath)
		if err != nil {
			return err
		}
		files, err := generate(lang, *tool, pkg)
		if err != nil {
			return fmt.Errorf("generating %s SDK: %w", lang, err)
		}
		dir := filepath.Join(*outDir, lang)
		if err := writeTree(dir, files); err != nil {
			return fmt.Errorf("writing %s SDK: %w", lang, err)
		}
		fmt.Printf("codegen: %s: %d files -> %s\n", lang, len(files), dir)
	}
	return nil
}

func parseLanguages(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, l := range strings.Split(s, ",") {
		l = strings.TrimSpace(l)
		if l == "" || seen[l] {
			continue
		}
		ok := false
		for _, s := range supported {
			ok = ok || s == l
		}
		if !ok {
			return nil, fmt.Errorf("unsupported language %q in --lang (supported: %s)", l, strings.Join(supported, ","))
		}
		seen[l] = true
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, errors.New("--lang names no language")
	}
	return out, nil
}

func bind(spec schema.PackageSpec, path string) (*schema.Package, error) {
	pkg, diags, err := schema.BindSpec(spec, selfContainedLoader{}, schema.ValidationOptions{})
	if err != nil {
		return nil, fmt.Errorf("binding %s: %w", path, err)
	}
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s is not a valid Pulumi schema:\n%s", path, diags.Error())
	}
	return pkg, nil
}

func generate(lang, tool string, pkg *schema.Package) (map[string][]byte, error) {
	switch lang {
	case "nodejs":
		return nodejs.GeneratePackage(tool, pkg, nil, nil, false, selfContainedLoader{})
	case "python":
		return python.GeneratePackage(tool, pkg, nil, selfContainedLoader{})
	case "go":
		return gogen.GeneratePackage(tool, pkg, nil)
	}
	return nil, fmt.Errorf("unsupported language %q", lang)
}

// writeTree replaces dir with exactly the generated files.
func writeTree(dir string, files map[string][]byte) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		clean := filepath.Clean(name)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			return fmt.Errorf("generator produced a path outside the output directory: %q", name)
		}
		p := filepath.Join(dir, clean)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}
