package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// LogKey is an attribute key of a log call that breaks docs/logging.md.
type LogKey struct {
	Pos, Key, Rule string
}

func (k LogKey) String() string { return fmt.Sprintf("%s: log key %q: %s", k.Pos, k.Key, k.Rule) }

// snakeCase is the one form of a log key: task_guid, cell_id, error.
var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// keyLike is a literal that is meant as a key (no spaces, no dots): the
// only literals the check judges, so that messages passed where a key
// could be are left alone.
var keyLike = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// Synonyms are keys that name a canonical key's value differently.
var Synonyms = map[string]string{
	"guid": "task_guid, process_guid, instance_guid or container_guid", "taskguid": "task_guid",
	"processguid": "process_guid", "instanceguid": "instance_guid", "cellid": "cell_id", "requestid": "request_id",
	"cell": "cell_id", "task_id": "task_guid", "lrp_guid": "process_guid", "process_index": "index",
	"domain_name": "domain", "process_id": "garden_process_id (a garden process) or process_guid (an LRP)",
	"process": "garden_process_id (a garden process) or process_guid (an LRP)",
}

// keyArgs says where a call's attribute arguments start, by the called
// name: the slog.Logger methods, logging.Session, and slog's Attr
// constructors (whose key is their first argument).
var keyArgs = map[string]int{
	"Debug": 1, "Info": 1, "Warn": 1, "Error": 1,
	"DebugContext": 2, "InfoContext": 2, "WarnContext": 2, "ErrorContext": 2, "Log": 3,
	"With": 0, "Session": 2,
}

var attrConstructors = map[string]bool{
	"String": true, "Int": true, "Int64": true, "Uint64": true, "Float64": true, "Bool": true,
	"Time": true, "Duration": true, "Any": true, "Group": true,
}

// CheckLogKeys reads the non-test Go files under root and returns every
// literal log attribute key that is not snake_case or is a synonym of a
// canonical key (docs/logging.md).
func CheckLogKeys(root string) ([]LogKey, error) {
	var out []LogKey
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || name == "bin" || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return fmt.Errorf("parsing %s: %w", p, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			method := sel.Sel.Name
			if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "slog" && attrConstructors[method] {
				if len(call.Args) > 0 {
					out = append(out, judge(fset, call.Args[0])...)
				}
				return true
			}
			start, ok := keyArgs[method]
			if !ok {
				return true
			}
			for i := start; i < len(call.Args); {
				if _, isLit := literal(call.Args[i]); !isLit {
					i++ // a slog.Attr, or a key in a variable
					continue
				}
				out = append(out, judge(fset, call.Args[i])...)
				i += 2
			}
			return true
		})
		return nil
	})
	return out, err
}

func literal(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

func judge(fset *token.FileSet, e ast.Expr) []LogKey {
	key, ok := literal(e)
	if !ok || !keyLike.MatchString(key) {
		return nil
	}
	pos := fset.Position(e.Pos()).String()
	if !snakeCase.MatchString(key) {
		return []LogKey{{Pos: pos, Key: key, Rule: "log keys are snake_case (docs/logging.md)"}}
	}
	if want, ok := Synonyms[key]; ok {
		return []LogKey{{Pos: pos, Key: key, Rule: "say " + want + " (docs/logging.md)"}}
	}
	return nil
}
