// Package doccheck holds the module's tests of its documentation and
// naming: every exported identifier and struct field of the core module
// has a doc comment, and every Default constant is named after the field
// or option whose default it is. It has no code of its own.
package doccheck
