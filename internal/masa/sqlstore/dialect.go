package sqlstore

import (
	"encoding/hex"
	"fmt"

	"github.com/landfall-io/landfall/internal/sqldb"
)

// The statements that are not portable differ in one thing only: testing
// membership in a list argument. PostgreSQL takes the list as an array
// (col = ANY($n)); internal/sqldb passes a slice to SQLite as a JSON array,
// which SQL reads with json_each. Every other statement of the store is
// one text for both dialects.

// inList is "col is one of the strings $n" in db's dialect; the argument
// is a []string on both.
func inList(db sqldb.DB, col string, n int) string {
	return fmt.Sprintf(sqldb.Pick(db,
		`%s = ANY($%d)`,
		`%s IN (SELECT value FROM json_each($%d))`), col, n)
}

// inByteList is "col is one of the byte strings $n" in db's dialect, with
// the argument byteList makes: a bytea[] on PostgreSQL; on SQLite a JSON
// array of hex strings (JSON has no bytes, and SQLite no base64 decoder),
// decoded by unhex.
func inByteList(db sqldb.DB, col string, n int) string {
	return fmt.Sprintf(sqldb.Pick(db,
		`%s = ANY($%d)`,
		`%s IN (SELECT unhex(value) FROM json_each($%d))`), col, n)
}

// byteList is the argument of inByteList.
func byteList(db sqldb.DB, bs [][]byte) any {
	if sqldb.DialectOf(db) == sqldb.PostgreSQL {
		return bs
	}
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = hex.EncodeToString(b)
	}
	return out
}
