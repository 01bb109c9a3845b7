package person

import "fmt"

// Snapshot renders every field of the person's state, unexported ones and
// nested slices and maps included (maps in key order), so a test can prove
// that Decide changed nothing. The exported accessors cannot reach the
// recent-command ring, every consent, attribute and notification, or the
// slices' contents behind shared backing arrays.
func Snapshot(p *Person) string { return fmt.Sprintf("%#v", *p) }
