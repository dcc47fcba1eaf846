package console

// HasZh reports whether msg has a Chinese translation (for the catalog test).
func HasZh(msg string) bool { _, ok := zhCN[msg]; return ok }
