//! The dashboard shows data that API clients control (attribute names and values, event names,
//! company names, request paths, app names) on the same origin as the admin plane. This renders
//! hostile values in every view and reads the HTML the way a browser's tokenizer does: the values
//! must come out as text, never as elements, event-handler attributes or `javascript:` links.

use std::collections::BTreeSet;

use html5gum::{DefaultEmitter, Token, Tokenizer};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{expect, Mock};

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = r#""><img src=x onerror=alert(1)>"#;
const QUOTES: &str = r#"Acme "Quoted" & 'Single' </td></tr>"#;
const JS_URL: &str = "javascript:alert(1)";
/// App names are part of API keys, so they take no spaces.
const APP: &str = r#""><svg/onload=alert(1)><script>alert(2)</script>"#;
/// A request path as it arrives: HTTP servers refuse `<`, `>`, `"` and spaces in a request
/// target, but quotes, `&`, `;` and a `javascript:` segment get through.
const RAW_PATH: &str = "/api/public/users/'onmouseover='alert(1)'&lt;b&gt;/javascript:alert(1)/";

/// Every element the dashboard itself writes. Anything else in a page is injected markup.
const OWN_ELEMENTS: &[&str] = &[
    "a", "article", "body", "button", "caption", "code", "dd", "details", "div", "dl", "dt",
    "footer", "form", "h1", "h2", "h3", "head", "header", "html", "input", "label", "li", "link",
    "main", "mark", "meta", "nav", "option", "p", "pre", "q", "script", "section", "select",
    "span", "strong", "summary", "table", "tbody", "td", "th", "thead", "time", "title", "tr",
    "ul",
];

/// An API call as the hostile app.
async fn call(m: &Mock, key: &str, method: Method, path: &str, body: Value) -> Value {
    let r = m.api_as(key, method, path, Some(body)).await;
    assert!(r.status < 300, "{path}: {} {}", r.status, r.text);
    r.body
}

/// A request whose target is sent as it is (an HTTP client would percent-encode some of it), so
/// the journal records it verbatim.
async fn raw_request(m: &Mock, key: &str, target: &str) {
    let addr = m.server.url().trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {key}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 404 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

/// One hostile app; returns (key, user id, company id).
async fn seed(m: &Mock) -> (String, u64, u64) {
    let r = m
        .admin(Method::POST, "/apps", Some(json!({"name": APP})))
        .await;
    expect(&r, 201);
    assert_eq!(r.body["app"], APP);
    let key = r.body["api_key"].as_str().unwrap().to_owned();
    let post = Method::POST;
    for (name, content_type) in [(JS_URL, "clientuser"), (SCRIPT, "event"), (IMG, "company")] {
        call(
            m,
            &key,
            post.clone(),
            "/attributes/",
            json!({"name": name, "value_type": "string", "content_type": content_type}),
        )
        .await;
    }
    let user = call(
        m,
        &key,
        post.clone(),
        "/users/",
        json!({"custom_id": SCRIPT, "first_name": QUOTES, "last_name": IMG,
               "homepage": JS_URL, SCRIPT: IMG, IMG: JS_URL, "seats": SCRIPT}),
    )
    .await;
    let uid = user["id"].as_u64().unwrap();
    call(
        m,
        &key,
        post.clone(),
        "/events/",
        json!({"user_id": uid, "name": SCRIPT, "data": {IMG: SCRIPT, "url": JS_URL}}),
    )
    .await;
    call(
        m,
        &key,
        post.clone(),
        "/site-views/",
        json!({"client_user": user["user_key"], "page_domain": "https://shop.example.com",
               "page_path": format!("/{IMG}"), "title": SCRIPT}),
    )
    .await;
    let company = call(
        m,
        &key,
        post.clone(),
        "/companies/",
        json!({"custom_id": IMG, "name": QUOTES, "website": JS_URL}),
    )
    .await;
    let cid = company["id"].as_u64().unwrap();
    call(
        m,
        &key,
        post,
        &format!("/companies/{cid}/add_member/"),
        json!({"user_id": uid}),
    )
    .await;
    raw_request(m, &key, &format!("{RAW_PATH}?q={JS_URL}&x='")).await;
    // An HTTP client percent-encodes the markup in a path; the journal shows it so.
    let r = m
        .api_as(&key, Method::GET, &format!("/users/{IMG}/"), None)
        .await;
    expect(&r, 404);
    (key, uid, cid)
}

/// What a browser's tokenizer makes of a page.
#[derive(Default)]
struct Parsed {
    elements: Vec<String>,
    /// (element, attribute, value) of every attribute.
    attributes: Vec<(String, String, String)>,
    /// Text runs, one a line (a tag ends a run).
    text: String,
    comments: Vec<String>,
    errors: Vec<String>,
}

fn parse(html: &str) -> Parsed {
    let utf8 = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    // Switch to RAWTEXT/RCDATA inside <script>, <style>, <title>… as a browser does.
    let mut emitter = DefaultEmitter::default();
    emitter.naively_switch_states(true);
    let mut out = Parsed::default();
    for token in Tokenizer::new_with_emitter(html, emitter) {
        match token.unwrap() {
            Token::StartTag(tag) => {
                let name = utf8(&tag.name);
                for (k, v) in &tag.attributes {
                    out.attributes.push((name.clone(), utf8(k), utf8(&v.value)));
                }
                out.elements.push(name);
                out.text.push('\n');
            }
            Token::EndTag(_) => out.text.push('\n'),
            Token::String(s) => out.text.push_str(&utf8(&s.value)),
            Token::Comment(c) => out.comments.push(utf8(&c.value)),
            Token::Doctype(_) => {}
            Token::Error(e) => out.errors.push(format!("{e:?}")),
        }
    }
    out
}

/// The page is inert: only the dashboard's own elements, its one script, no event handlers, no
/// script URLs; and the hostile values it should show are there as text.
fn assert_inert(what: &str, html: &str, whole_page: bool, shown: &[&str]) {
    let p = parse(html);
    assert!(p.errors.is_empty(), "{what}: parse errors {:?}", p.errors);
    assert!(p.comments.is_empty(), "{what}: comments {:?}", p.comments);
    let unknown: BTreeSet<&String> = p
        .elements
        .iter()
        .filter(|e| !OWN_ELEMENTS.contains(&e.as_str()))
        .collect();
    assert!(unknown.is_empty(), "{what}: injected elements {unknown:?}");
    let scripts = p.elements.iter().filter(|e| *e == "script").count();
    let script_srcs: Vec<&str> = p
        .attributes
        .iter()
        .filter(|(e, _, _)| e == "script")
        .map(|(_, k, v)| {
            assert!(
                k == "src" || k == "defer",
                "{what}: script attribute {k}={v}"
            );
            v.as_str()
        })
        .filter(|v| !v.is_empty())
        .collect();
    assert_eq!(
        scripts,
        usize::from(whole_page),
        "{what}: <script> elements"
    );
    assert_eq!(
        script_srcs,
        if whole_page {
            vec!["/__admin/dashboard/app.js"]
        } else {
            vec![]
        },
        "{what}: the only script is the dashboard's own"
    );
    for (element, name, value) in &p.attributes {
        assert!(
            !name.starts_with("on"),
            "{what}: event handler <{element} {name}={value:?}>"
        );
        if matches!(name.as_str(), "href" | "src" | "action" | "formaction") {
            // Browsers ignore ASCII whitespace and control characters inside a scheme.
            let scheme: String = value
                .chars()
                .filter(|c| !c.is_ascii_whitespace() && !c.is_ascii_control())
                .collect::<String>()
                .to_ascii_lowercase();
            assert!(
                !scheme.starts_with("javascript:") && !scheme.starts_with("vbscript:"),
                "{what}: script URL <{element} {name}={value:?}>"
            );
            assert!(
                !scheme.starts_with("data:") || value == "data:,",
                "{what}: data URL <{element} {name}={value:?}>"
            );
        }
    }
    for s in shown {
        assert!(
            p.text.lines().any(|line| line.contains(s)),
            "{what}: {s:?} is not shown as text"
        );
    }
}

/// A dashboard query and the hostile values its view shows as text.
type View<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);

#[tokio::test]
async fn every_view_renders_hostile_names_and_values_as_inert_text() {
    let m = Mock::start().await;
    let (_key, uid, cid) = seed(&m).await;
    let (uid, cid) = (uid.to_string(), cid.to_string());
    // Every view of the router (`/` and its fragment), by query: (query, values shown as text).
    let views: Vec<View> = vec![
        (vec![], vec![APP, SCRIPT, QUOTES, IMG, JS_URL]),
        (vec![("q", SCRIPT)], vec![SCRIPT, QUOTES]),
        (vec![("q", IMG)], vec![IMG]),
        (vec![("user", &uid)], vec![SCRIPT, QUOTES, IMG, JS_URL]),
        (vec![("user", "999999")], vec![]),
        (vec![("company", &cid)], vec![QUOTES, IMG, JS_URL, SCRIPT]),
        (vec![("company", "999999")], vec![]),
        (vec![("event", SCRIPT)], vec![SCRIPT, JS_URL]),
        (vec![("event", IMG)], vec![IMG]),
        (vec![("journal", "1")], vec![]),
        (vec![("journal", "2000")], vec![IMG, SCRIPT, RAW_PATH]),
    ];
    for (query, shown) in &views {
        let mut query = query.clone();
        query.push(("app", APP));
        for (path, whole_page) in [("/", true), ("/__admin/dashboard/fragment", false)] {
            let r = m
                .http
                .get(format!("{}{path}", m.server.url()))
                .query(&query)
                .send()
                .await
                .unwrap();
            let what = format!("{path} {query:?}");
            assert_eq!(r.status(), 200, "{what}");
            let html = r.text().await.unwrap();
            let mut shown = shown.clone();
            if whole_page {
                shown.push(APP); // the title and the app selector
            }
            assert_inert(&what, &html, whole_page, &shown);
        }
    }
    // The raw request reached the journal as it was sent (so the journal views above showed it).
    let journal = m.journal().await;
    assert!(journal.iter().any(|e| e["path"] == RAW_PATH), "{journal:?}");
}

#[test]
fn the_checker_catches_injected_markup() {
    let caught =
        |html: &str| std::panic::catch_unwind(|| assert_inert("probe", html, false, &[])).is_err();
    assert!(!caught("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"));
    assert!(caught("<p><script>alert(1)</script></p>"));
    assert!(caught(r#"<p title="x" onclick="alert(1)">x</p>"#));
    assert!(caught(r#"<a href=" JavaScript:alert(1)">x</a>"#));
    assert!(caught(r#"<p>"><img src=x onerror=alert(1)></p>"#));
}
