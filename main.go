// Command idp turns loan-document PDFs into structured data in the background.
package main

import "github.com/idp/idp/cmd"

func main() { cmd.Execute() }
