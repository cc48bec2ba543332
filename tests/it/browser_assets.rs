//! The dashboard's files without a browser (fast, always run): every file `index.html` references,
//! every module the scripts import, and every page module the router loads is served with its
//! right content type; the page keeps to its CSP (no inline script or style, nothing from another
//! origin, no `eval`).

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use crate::support::{TestEnv, base, client, header, mock_config};

fn static_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("static")
}

/// Every file under `static/`, as a path relative to it.
fn static_files() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).expect("read static dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                out.push(p.strip_prefix(root).expect("under static").to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(&static_dir(), &static_dir(), &mut out);
    out.sort();
    out
}

fn expected_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        other => panic!("unexpected static file type {other:?} ({path})"),
    }
}

/// `attr="..."` values in `html`.
fn attr_values(html: &str, attr: &str) -> Vec<String> {
    let needle = format!("{attr}=\"");
    html.match_indices(&needle)
        .filter_map(|(i, _)| html[i + needle.len()..].split('"').next().map(str::to_string))
        .collect()
}

/// The relative module specifiers a script imports statically (`from "./x.js"`, `import "./x.js"`).
fn imports(js: &str) -> Vec<String> {
    let mut out = Vec::new();
    for marker in ["from \"", "import \""] {
        for (i, _) in js.match_indices(marker) {
            if let Some(spec) = js[i + marker.len()..].split('"').next()
                && spec.starts_with('.')
            {
                out.push(spec.to_string());
            }
        }
    }
    out
}

/// Resolves `spec` relative to the file `from` (both relative to `static/`).
fn resolve(from: &str, spec: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in spec.split('/') {
        match seg {
            "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[actix_web::test]
async fn dashboard_files_are_served_with_their_content_types() {
    let env = TestEnv::new().await;
    let app = env.start(&mock_config("http://127.0.0.1:9/v1", &[], "")).await;
    let b = base(&app);
    let c = client();

    // The page itself, with its CSP.
    let mut r = c.get(format!("{b}/dashboard")).send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/html"), "{}", header(&r, "content-type"));
    let csp = header(&r, "content-security-policy");
    assert!(csp.contains("script-src 'self'") && csp.contains("style-src 'self'") && !csp.contains("unsafe"), "{csp}");
    let html = String::from_utf8(r.body().await.expect("body").to_vec()).expect("utf-8");

    // No inline script or style: every <script> has a src, no style attribute or element.
    assert_eq!(
        html.matches("<script").count(),
        attr_values(&html, "src").iter().filter(|s| s.ends_with(".js")).count(),
        "inline script in index.html"
    );
    assert!(!html.contains("<style") && !html.contains(" style=\""), "inline style in index.html");

    // Everything index.html references, then every module reachable by static imports.
    let mut wanted: VecDeque<String> = attr_values(&html, "src")
        .into_iter()
        .chain(attr_values(&html, "href"))
        .filter_map(|u| u.strip_prefix("/dashboard/").map(str::to_string))
        .collect();
    assert!(wanted.contains(&"app.js".to_string()) && wanted.contains(&"style.css".to_string()), "{wanted:?}");
    // The router imports one module per page: `./js/pages/<page>.js` for each sidebar link.
    for page in attr_values(&html, "data-page") {
        wanted.push_back(format!("js/pages/{page}.js"));
    }
    let mut seen = BTreeSet::new();
    while let Some(path) = wanted.pop_front() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let mut r = c.get(format!("{b}/dashboard/{path}")).send().await.expect("send");
        assert_eq!(r.status(), 200, "GET /dashboard/{path}");
        let ct = header(&r, "content-type");
        assert!(ct.starts_with(expected_type(&path)), "/dashboard/{path} is served as `{ct}`");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
        if path.ends_with(".js") {
            let js = String::from_utf8(r.body().await.expect("body").to_vec()).expect("utf-8");
            for spec in imports(&js) {
                wanted.push_back(resolve(&path, &spec));
            }
        }
    }

    // Every file in static/ is reachable from the page (nothing dead is shipped) and keeps to the
    // CSP: no other origin (the SVG namespace is a name, not a fetch), no eval, no inline styles.
    let files = static_files();
    let unreached: Vec<_> = files.iter().filter(|f| !seen.contains(*f) && f.as_str() != "index.html").collect();
    assert!(unreached.is_empty(), "static files nothing references: {unreached:?}");
    for f in &files {
        let text = std::fs::read_to_string(static_dir().join(f)).expect("read");
        let foreign: Vec<_> = text
            .match_indices("http")
            .filter_map(|(i, _)| text[i..].split(['"', '\'', '`', ' ', ')']).next())
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            // A real origin has a dotted host (`https://host/v1` in a placeholder is not one).
            .filter(|u| {
                u.split('/').nth(2).is_some_and(|h| h.contains('.')) && !u.starts_with("http://www.w3.org/2000/svg")
            })
            .collect();
        assert!(foreign.is_empty(), "{f} refers to another origin: {foreign:?}");
        if f.ends_with(".js") {
            assert!(!text.contains("eval(") && !text.contains("new Function"), "{f} evaluates code");
            assert!(!text.contains("innerHTML"), "{f} writes HTML from strings (use the dom.js builders)");
            assert!(!text.contains("setAttribute(\"style\""), "{f} sets an inline style attribute");
        }
    }
    // An unknown file is a 404, not the page.
    let r = c.get(format!("{b}/dashboard/js/nope.js")).send().await.expect("send");
    assert_eq!(r.status(), 404);
    app.stop().await;
}
