// Command hello is the floor of the external-check section: a Go program
// that prints one line and exits, built as the release binaries are.
package main

import "fmt"

func main() { fmt.Println("hello, world") }
