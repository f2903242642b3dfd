package migrations

import (
	"embed"
	"io/fs"
	"slices"
	"strings"
)

// SQLite holds the SQLite form of both schemas, for the embedded store of a
// single registrar or MASA (internal/sqldb): the directories
// "sqlite/registrar" and "sqlite/masa" hold the migrations whose
// PostgreSQL text SQLite cannot run. Every other file is shared: the SQLite
// schema of a service is its sqlite directory laid over its PostgreSQL one
// (sqliteSource), so that a version number means the same schema on both
// backends and portable SQL is written once.
//
//go:embed sqlite/registrar/*.sql sqlite/masa/*.sql
var SQLite embed.FS

// sqliteSource is s's migrations for SQLite: the file of sqlite/<Dir> where
// there is one, else the PostgreSQL file of the same name.
func sqliteSource(s Schema) (fs.FS, error) {
	lite, err := fs.Sub(SQLite, "sqlite/"+s.Dir)
	if err != nil {
		return nil, err
	}
	pg, err := fs.Sub(s.FS, s.Dir)
	if err != nil {
		return nil, err
	}
	return overlay{lite, pg}, nil
}

// overlay reads a file from top, or from base where top has none; its
// directory lists both.
type overlay struct{ top, base fs.FS }

func (o overlay) Open(name string) (fs.File, error) {
	if name != "." {
		if f, err := o.top.Open(name); err == nil {
			return f, nil
		}
		return o.base.Open(name)
	}
	return o.base.Open(name)
}

func (o overlay) ReadDir(name string) ([]fs.DirEntry, error) {
	base, err := fs.ReadDir(o.base, name)
	if err != nil {
		return nil, err
	}
	top, _ := fs.ReadDir(o.top, name)
	seen := map[string]bool{}
	var out []fs.DirEntry
	for _, e := range append(top, base...) {
		if !seen[e.Name()] {
			seen[e.Name()] = true
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}
