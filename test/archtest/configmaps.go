package archtest

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

// ConfigMap is a map[string]any literal in a test or test helper that
// holds a daemon config key: a config written by hand, which drifts when
// the daemon renames the key (issue 15: tests make configs with
// deploy/cluster's typed builder).
type ConfigMap struct {
	Pos, Key string
}

func (c ConfigMap) String() string {
	return fmt.Sprintf("%s: a map literal with the config key %q: build the daemon's typed config with deploy/cluster", c.Pos, c.Key)
}

// JSONKeys are the JSON keys of the given config structs, with those of
// embedded and nested structs (the etcd block's endpoints, ...).
func JSONKeys(configs ...any) map[string]bool {
	keys := map[string]bool{}
	seen := map[reflect.Type]bool{} // recursive types (an Action holds Actions)
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				keys[name] = true
			}
			walk(f.Type)
		}
	}
	for _, c := range configs {
		walk(reflect.TypeOf(c))
	}
	return keys
}

// CheckConfigMaps reads every Go file, tests included, under root's cmd/
// and test/ and returns each map[string]any (or map[string]interface{})
// literal with a key among keys.
func CheckConfigMaps(root string, keys map[string]bool) ([]ConfigMap, error) {
	var out []ConfigMap
	fset := token.NewFileSet()
	for _, dir := range []string{"cmd", "test"} {
		base := filepath.Join(root, dir)
		if _, err := os.Stat(base); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != base && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(p, ".go") {
				return nil
			}
			f, err := parser.ParseFile(fset, p, nil, 0)
			if err != nil {
				return fmt.Errorf("parsing %s: %w", p, err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.CompositeLit)
				if !ok || !isAnyMap(lit.Type) {
					return true
				}
				for _, elt := range lit.Elts {
					kv, ok := elt.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					b, ok := kv.Key.(*ast.BasicLit)
					if !ok || b.Kind != token.STRING {
						continue
					}
					if key, err := strconv.Unquote(b.Value); err == nil && keys[key] {
						out = append(out, ConfigMap{Pos: fset.Position(b.Pos()).String(), Key: key})
						break
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// isAnyMap: map[string]any or map[string]interface{}.
func isAnyMap(t ast.Expr) bool {
	m, ok := t.(*ast.MapType)
	if !ok {
		return false
	}
	if k, ok := m.Key.(*ast.Ident); !ok || k.Name != "string" {
		return false
	}
	switch v := m.Value.(type) {
	case *ast.Ident:
		return v.Name == "any"
	case *ast.InterfaceType:
		return v.Methods == nil || len(v.Methods.List) == 0
	}
	return false
}
