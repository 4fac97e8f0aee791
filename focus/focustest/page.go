package focustest

import (
	"cmp"
	"crypto/subtle"
	"html/template"
	"net/http"
	"slices"
	"time"
)

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="2">
<title>Focus emulator</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: left; }
td.n { text-align: right; }
</style>
</head>
<body>
<h1>Focus emulator</h1>
<p>API base URL: <code>{{.Base}}</code>. This page refreshes every 2 seconds.</p>
{{range .Tasks}}
<h2>Task {{.ID}} <small>(organization {{.Org}}, workspace {{.WS}})</small></h2>
{{if .Items}}
<table>
<tr><th>Name</th><th>Size</th><th>Display order</th><th>Created</th></tr>
{{range .Items}}<tr><td>{{.Name}}</td><td class="n">{{.Size}}</td><td class="n">{{.DisplayOrder}}</td><td>{{.Created}}</td></tr>
{{end}}</table>
{{else}}<p>No attachments.</p>{{end}}
{{else}}<p>No tasks yet.</p>{{end}}
</body>
</html>
`))

type pageRow struct {
	Name         string
	Size         int64
	DisplayOrder int64
	Created      string
}

type pageTask struct {
	ID, Org, WS int64
	Items       []pageRow
}

// page serves the HTML list of every task's live attachments. With a token set
// (Options.Token) it asks for it, as the API does: a browser prompts for a user
// name (any) and a password (the token) with HTTP basic authentication; a bearer
// token is taken too.
func (e *Emulator) page(w http.ResponseWriter, r *http.Request) {
	if !e.pageAuthorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Focus emulator: any user name, the token as password", charset="UTF-8"`)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "this emulator requires its token: give it as the password (any user name)", http.StatusUnauthorized)
		return
	}
	e.mu.Lock()
	var tasks []pageTask
	for id, home := range e.tasks {
		t := pageTask{ID: id, Org: home.org, WS: home.ws}
		for _, it := range e.taskItemsLocked(id, false) {
			t.Items = append(t.Items, pageRow{
				Name: e.names.get(it.name), Size: it.size, DisplayOrder: it.order,
				Created: unixTime(it.created).Format(time.RFC3339),
			})
		}
		tasks = append(tasks, t)
	}
	e.mu.Unlock()
	slices.SortFunc(tasks, func(a, b pageTask) int { return cmp.Compare(a.ID, b.ID) })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	data := struct {
		Base  string
		Tasks []pageTask
	}{"http://" + r.Host + "/api", tasks}
	_ = pageTemplate.Execute(w, data)
}

// pageAuthorized reports whether r may see the page: any request when no token is
// set, else one that carries the token as a bearer token or a basic password.
func (e *Emulator) pageAuthorized(r *http.Request) bool {
	if e.opts.Token == "" || e.authorized(r) {
		return true
	}
	_, pass, ok := r.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(pass), []byte(e.opts.Token)) == 1
}
