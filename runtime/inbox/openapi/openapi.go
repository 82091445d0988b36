// Package openapi is the inbox API's OpenAPI 3.1 document, kept in the repository as one
// YAML fragment per feature beside this file and merged at start into one document,
// served without authentication at GET /api/v1/openapi.json.
//
// base.yaml holds the document's head (openapi, info, servers, security) and the shared
// components (Problem, the Limit and Cursor parameters, the error responses). Every other
// *.yaml file is a feature's fragment and may hold only "paths" and "components": a lane
// adds its operations by adding a file, without editing anyone else's. A path, or a
// component of one kind (schemas, parameters, responses, …), defined in two files is an
// error naming both files (TestDocument fails on it).
//
// Package openapitest validates the requests and responses of API tests against the
// merged document.
package openapi

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"sync"

	"sigs.k8s.io/yaml"
)

// Path is where the document is served.
const Path = "/api/v1/openapi.json"

// BaseFile is the fragment that holds the document's head.
const BaseFile = "base.yaml"

//go:embed *.yaml
var files embed.FS

// File is one YAML fragment.
type File struct {
	Name string
	Data []byte
}

// Fragments returns the embedded fragments, base.yaml first, then by name.
func Fragments() []File {
	names, _ := fs.Glob(files, "*.yaml")
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == BaseFile) != (names[j] == BaseFile) {
			return names[i] == BaseFile
		}
		return names[i] < names[j]
	})
	out := make([]File, 0, len(names))
	for _, n := range names {
		b, _ := files.ReadFile(n)
		out = append(out, File{Name: n, Data: b})
	}
	return out
}

// Merge merges fragments into one JSON document. The first is the base: its keys are
// kept as they are, its paths and components merged with the others'. Every other file
// may hold only "paths" and "components"; a path, or a component name within one kind,
// defined twice is an error naming the two files.
func Merge(fragments []File) ([]byte, error) {
	if len(fragments) == 0 {
		return nil, fmt.Errorf("openapi: no fragments")
	}
	var doc map[string]any
	if err := yaml.Unmarshal(fragments[0].Data, &doc); err != nil {
		return nil, fmt.Errorf("openapi: %s: %w", fragments[0].Name, err)
	}
	paths := objectAt(doc, "paths")
	components := objectAt(doc, "components")
	pathFrom, compFrom := map[string]string{}, map[string]string{}
	for p := range paths {
		pathFrom[p] = fragments[0].Name
	}
	for kind, v := range components {
		for name := range asObject(v) {
			compFrom[kind+"/"+name] = fragments[0].Name
		}
	}
	for _, f := range fragments[1:] {
		if err := mergeOne(f, paths, components, pathFrom, compFrom); err != nil {
			return nil, err
		}
	}
	return json.Marshal(doc)
}

func mergeOne(f File, paths, components map[string]any, pathFrom, compFrom map[string]string) error {
	var frag map[string]any
	if err := yaml.Unmarshal(f.Data, &frag); err != nil {
		return fmt.Errorf("openapi: %s: %w", f.Name, err)
	}
	for k := range frag {
		if k != "paths" && k != "components" {
			return fmt.Errorf("openapi: %s: top-level key %q: a fragment holds only paths and components (%s holds the rest)", f.Name, k, BaseFile)
		}
	}
	for p, item := range asObject(frag["paths"]) {
		if prev, dup := pathFrom[p]; dup {
			return fmt.Errorf("openapi: path %s is defined in %s and in %s", p, prev, f.Name)
		}
		pathFrom[p], paths[p] = f.Name, item
	}
	for kind, v := range asObject(frag["components"]) {
		dst := objectAt(components, kind)
		for name, def := range asObject(v) {
			key := kind + "/" + name
			if prev, dup := compFrom[key]; dup {
				return fmt.Errorf("openapi: component %s is defined in %s and in %s", key, prev, f.Name)
			}
			compFrom[key], dst[name] = f.Name, def
		}
	}
	return nil
}

// objectAt returns m[key] as an object, creating it when missing.
func objectAt(m map[string]any, key string) map[string]any {
	o, ok := m[key].(map[string]any)
	if !ok {
		o = map[string]any{}
		m[key] = o
	}
	return o
}

func asObject(v any) map[string]any {
	o, _ := v.(map[string]any)
	return o
}

var merged = sync.OnceValues(func() ([]byte, error) { return Merge(Fragments()) })

// Document returns the merged document (JSON), computed once.
func Document() ([]byte, error) { return merged() }

// Register serves the document at GET Path, without authentication. It fails when the
// fragments do not merge (a duplicate path or component, bad YAML), so the inbox does
// not start with a broken document.
func Register(mux *http.ServeMux) error {
	doc, err := Document()
	if err != nil {
		return err
	}
	mux.HandleFunc("GET "+Path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(doc)
	})
	return nil
}
