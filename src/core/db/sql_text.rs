//! Reading SQL text without a parser: the tokens that matter (words, parentheses, commas,
//! semicolons) with comments, strings, quoted identifiers and dollar quotes skipped over; where
//! the statements of a script begin and end; the shape of one statement (its `WITH` clause, its
//! main keyword, whether it has `RETURNING`); and the line an offset is on.
//!
//! It serves two callers: [`super::query`], which wraps a row-returning statement so Postgres
//! turns its rows into JSON, and [`crate::core::runs::schema_files`], which names the statement
//! of a schema file that failed. Neither needs more than this; when the text is not SQL the
//! server rejects it, and these functions only have to not misplace a boundary.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A keyword or an unquoted identifier.
    Word,
    /// `(`
    Open,
    /// `)`
    Close,
    /// `,`
    Comma,
    /// `;`
    Semicolon,
    /// Anything else: a string, a quoted identifier, a number, an operator, a parameter.
    Other,
}

/// One token of SQL text.
#[derive(Debug, Clone, Copy)]
pub struct Token<'a> {
    /// What it is.
    pub kind: TokenKind,
    /// Its text, as written.
    pub text: &'a str,
    /// Byte offset of its first character.
    pub start: usize,
    /// Parenthesis depth it is at (`(` and `)` are at the outer depth).
    pub depth: u32,
}

impl Token<'_> {
    /// Is this the word `word` (case-insensitive)?
    pub fn is(&self, word: &str) -> bool {
        self.kind == TokenKind::Word && self.text.eq_ignore_ascii_case(word)
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_ident_char(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit() || c == b'$'
}

/// The tokens of `sql`, comments and whitespace left out. Unterminated strings and comments
/// run to the end of the text.
pub fn tokens(sql: &str) -> Vec<Token<'_>> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut depth: u32 = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind = match c {
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                // Block comments nest in PostgreSQL.
                let mut level = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        level += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        level -= 1;
                        i += 2;
                        if level == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'\'' => {
                i = skip_quoted(b, i, b'\'', false);
                TokenKind::Other
            }
            b'e' | b'E' if b.get(i + 1) == Some(&b'\'') => {
                i = skip_quoted(b, i + 1, b'\'', true);
                TokenKind::Other
            }
            b'"' => {
                i = skip_quoted(b, i, b'"', false);
                TokenKind::Other
            }
            b'$' => {
                if let Some(end) = dollar_quote_end(sql, i) {
                    i = end;
                } else {
                    // `$1`, or a lone `$`.
                    i += 1;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                TokenKind::Other
            }
            b'(' => {
                i += 1;
                out.push(Token {
                    kind: TokenKind::Open,
                    text: &sql[start..i],
                    start,
                    depth,
                });
                depth += 1;
                continue;
            }
            b')' => {
                i += 1;
                depth = depth.saturating_sub(1);
                TokenKind::Close
            }
            b',' => {
                i += 1;
                TokenKind::Comma
            }
            b';' => {
                i += 1;
                TokenKind::Semicolon
            }
            c if is_ident_start(c) => {
                while i < b.len() && is_ident_char(b[i]) {
                    i += 1;
                }
                TokenKind::Word
            }
            _ => {
                i += 1;
                // Keep multi-byte characters whole.
                while i < b.len() && !sql.is_char_boundary(i) {
                    i += 1;
                }
                TokenKind::Other
            }
        };
        out.push(Token {
            kind,
            text: &sql[start..i],
            start,
            depth,
        });
    }
    out
}

/// The end of a quoted run that starts at `open` (a doubled quote stays inside; with
/// `backslash`, so does a backslash-escaped character).
fn skip_quoted(b: &[u8], open: usize, quote: u8, backslash: bool) -> usize {
    let mut i = open + 1;
    while i < b.len() {
        if backslash && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

/// When a dollar quote (`$$` or `$tag$`) opens at `at`, the offset just past its closing tag.
fn dollar_quote_end(sql: &str, at: usize) -> Option<usize> {
    let b = sql.as_bytes();
    // `a$1` is an identifier and `1$` no quote: a dollar quote follows no identifier character.
    if at > 0 && is_ident_char(b[at - 1]) {
        return None;
    }
    let mut j = at + 1;
    if j < b.len() && is_ident_start(b[j]) {
        while j < b.len() && is_ident_char(b[j]) && b[j] != b'$' {
            j += 1;
        }
    }
    if b.get(j) != Some(&b'$') {
        return None;
    }
    let tag = &sql[at..=j];
    let body = j + 1;
    Some(
        sql[body..]
            .find(tag)
            .map(|k| body + k + tag.len())
            .unwrap_or(sql.len()),
    )
}

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Byte offset of its first token.
    pub start: usize,
    /// Byte offset just past its last token (its `;` excluded).
    pub end: usize,
    /// The 1-based line its first token is on.
    pub line: usize,
}

impl Statement {
    /// Its text in `script`.
    pub fn text<'a>(&self, script: &'a str) -> &'a str {
        &script[self.start..self.end]
    }
}

/// `script` with its own transaction control (`BEGIN`, `START TRANSACTION`, `COMMIT`, `END`)
/// blanked out, offsets and lines kept: for running the script inside a transaction of the
/// caller's, which its `COMMIT` would otherwise end.
pub fn without_transaction_control(script: &str) -> std::borrow::Cow<'_, str> {
    let control: Vec<Statement> = split_statements(script)
        .into_iter()
        .filter(|s| {
            let toks = tokens(s.text(script));
            match toks.first() {
                Some(t) if t.is("commit") || t.is("end") => toks.len() <= 2,
                Some(t) if t.is("begin") => {
                    toks.len() == 1
                        || (toks.len() == 2 && (toks[1].is("work") || toks[1].is("transaction")))
                }
                Some(t) if t.is("start") => toks.get(1).is_some_and(|t| t.is("transaction")),
                _ => false,
            }
        })
        .collect();
    if control.is_empty() {
        return std::borrow::Cow::Borrowed(script);
    }
    let mut out = script.to_string();
    for s in control.iter().rev() {
        // One semicolon stays: the blanked statement is an empty one.
        out.replace_range(s.start..s.end, &" ".repeat(s.end - s.start));
    }
    std::borrow::Cow::Owned(out)
}

/// The statements of a script, split at semicolons outside parentheses, strings, comments,
/// dollar quotes and `BEGIN ATOMIC ... END` function bodies. Empty statements are left out.
pub fn split_statements(script: &str) -> Vec<Statement> {
    let toks = tokens(script);
    let mut out = Vec::new();
    let mut first: Option<usize> = None;
    let mut last_end = 0;
    // Inside `BEGIN ATOMIC`: 1 + open `CASE ... END`s.
    let mut atomic: u32 = 0;
    for (k, t) in toks.iter().enumerate() {
        if t.kind == TokenKind::Semicolon && t.depth == 0 && atomic == 0 {
            if let Some(f) = first.take() {
                out.push(Statement {
                    start: toks[f].start,
                    end: last_end,
                    line: line_of(script, toks[f].start),
                });
            }
            continue;
        }
        if first.is_none() {
            if t.kind == TokenKind::Semicolon {
                continue;
            }
            first = Some(k);
        }
        if t.kind == TokenKind::Word {
            let opens_body = t.is("atomic") && k > 0 && toks[k - 1].is("begin");
            if opens_body || (atomic > 0 && t.is("case")) {
                atomic += 1;
            } else if atomic > 0 && t.is("end") {
                atomic -= 1;
            }
        }
        last_end = t.start + t.text.len();
    }
    if let Some(f) = first {
        out.push(Statement {
            start: toks[f].start,
            end: last_end,
            line: line_of(script, toks[f].start),
        });
    }
    out
}

/// The 1-based line of byte offset `offset`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&c| c == b'\n')
        .count()
        + 1
}

/// The byte offset of the `position`-th character (1-based, as Postgres reports an error
/// position), when the text has it.
pub fn char_offset(text: &str, position: usize) -> Option<usize> {
    if position == 0 {
        return None;
    }
    text.char_indices().nth(position - 1).map(|(i, _)| i)
}

/// The shape of one statement: what [`super::query`] needs to wrap it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Byte offset where the main statement starts (after a `WITH` clause; else the first token).
    pub main_start: usize,
    /// The main statement's first word, lower-cased (`select`, `insert`, ...), or `(`.
    pub keyword: String,
    /// Whether the main statement has a `RETURNING` clause (outside parentheses).
    pub returning: bool,
    /// Whether the statement starts with a `WITH` clause.
    pub with_clause: bool,
}

impl Shape {
    /// Does the statement give rows that can be wrapped as a subquery or CTE: a query
    /// (`select`, `values`, `table`, a parenthesised query) or a data change with `RETURNING`?
    pub fn returns_rows(&self) -> bool {
        match self.keyword.as_str() {
            "select" | "values" | "table" | "(" => true,
            "insert" | "update" | "delete" | "merge" => self.returning,
            _ => false,
        }
    }
}

const MAIN_KEYWORDS: &[&str] = &[
    "select", "insert", "update", "delete", "merge", "values", "table",
];

/// The shape of `sql` (one statement; a trailing `;` is allowed).
pub fn shape(sql: &str) -> Shape {
    let toks = tokens(sql);
    let top: Vec<&Token> = toks.iter().filter(|t| t.depth == 0).collect();
    let Some(first) = top.first() else {
        return Shape {
            main_start: sql.len(),
            keyword: String::new(),
            returning: false,
            with_clause: false,
        };
    };
    let mut main = 0;
    let with_clause = first.is("with");
    if with_clause {
        // Skip `WITH [RECURSIVE] name [(cols)] AS [NOT] [MATERIALIZED] (body) [SEARCH/CYCLE ...],
        // ...`: the main statement is the first main keyword (or `(`) at depth 0 that follows a
        // CTE body.
        let mut after_body = false;
        let mut k = 1;
        while k < top.len() {
            let t = top[k];
            if after_body && (t.kind == TokenKind::Open || MAIN_KEYWORDS.iter().any(|w| t.is(w))) {
                break;
            }
            if t.kind == TokenKind::Comma {
                after_body = false;
            } else if t.kind == TokenKind::Close {
                // The `)` closing a body at depth 0: was the `(` after `AS [NOT] [MATERIALIZED]`?
                let open = top[..k]
                    .iter()
                    .rposition(|o| o.kind == TokenKind::Open)
                    .unwrap_or(0);
                if open > 0 && (top[open - 1].is("as") || top[open - 1].is("materialized")) {
                    after_body = true;
                }
            }
            k += 1;
        }
        main = k;
    }
    let Some(main_tok) = top.get(main) else {
        return Shape {
            main_start: sql.len(),
            keyword: String::new(),
            returning: false,
            with_clause,
        };
    };
    let keyword = if main_tok.kind == TokenKind::Open {
        "(".to_string()
    } else {
        main_tok.text.to_ascii_lowercase()
    };
    let returning = top[main..].iter().any(|t| t.is("returning"));
    Shape {
        main_start: main_tok.start,
        keyword,
        returning,
        with_clause,
    }
}

/// `sql` without trailing semicolons, whitespace and comments: the end of its last token.
pub fn trim_end(sql: &str) -> &str {
    let toks = tokens(sql);
    let last = toks
        .iter()
        .rev()
        .find(|t| t.kind != TokenKind::Semicolon || t.depth != 0);
    match last {
        Some(t) => &sql[..t.start + t.text.len()],
        None => "",
    }
}

/// Does `sql` hold more than one statement?
pub fn has_several_statements(sql: &str) -> bool {
    split_statements(sql).len() > 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(script: &str) -> Vec<&str> {
        split_statements(script)
            .iter()
            .map(|s| s.text(script))
            .collect()
    }

    #[test]
    fn splits_at_semicolons_outside_strings_comments_and_bodies() {
        let script = "create table a (x text default ';');\n\
                      -- a comment; with a semicolon\n\
                      /* block; /* nested; */ still; */ insert into a values ('it''s; fine');\n\
                      create function f() returns int language sql as $body$ select 1; $body$;\n\
                      create function g() returns int language plpgsql as $$ begin return 1; end $$;\n\
                      select E'\\';' as s;;\n\
                      select \"odd;name\" from a";
        assert_eq!(
            texts(script),
            vec![
                "create table a (x text default ';')",
                "insert into a values ('it''s; fine')",
                "create function f() returns int language sql as $body$ select 1; $body$",
                "create function g() returns int language plpgsql as $$ begin return 1; end $$",
                "select E'\\';' as s",
                "select \"odd;name\" from a",
            ]
        );
    }

    #[test]
    fn a_begin_atomic_body_is_one_statement() {
        let script = "create function h(x int) returns int language sql begin atomic \
                      select case when x > 0 then 1 else 0 end; select 2; end;\nselect 3;";
        let parts = texts(script);
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert!(parts[0].ends_with("select 2; end"), "{parts:?}");
        assert_eq!(parts[1], "select 3");
    }

    #[test]
    fn statements_know_their_line() {
        let script = "\n-- header\ncreate table a (x int);\n\n  insert into a\n  values (1);";
        let lines: Vec<usize> = split_statements(script).iter().map(|s| s.line).collect();
        assert_eq!(lines, vec![3, 5]);
    }

    #[test]
    fn parameters_are_not_dollar_quotes() {
        let t = tokens("select $1, $2 from t where a$b = $3");
        let others: Vec<&str> = t
            .iter()
            .filter(|t| t.kind == TokenKind::Other)
            .map(|t| t.text)
            .collect();
        assert_eq!(others, vec!["$1", "$2", "=", "$3"]);
        assert!(t.iter().any(|t| t.text == "a$b"));
    }

    #[test]
    fn shapes_of_queries_and_changes() {
        let s = shape("select * from t where x = $1;");
        assert_eq!(
            (s.keyword.as_str(), s.main_start, s.returns_rows()),
            ("select", 0, true)
        );
        assert!(shape("  (select 1) union (select 2)").returns_rows());
        assert!(shape("VALUES (1), (2)").returns_rows());
        assert!(shape("insert into t (a) values ($1) returning *").returns_rows());
        assert!(!shape("insert into t (a) values ($1)").returns_rows());
        assert!(!shape("update t set a = (select 1 returning_x)").returns_rows());
        assert!(!shape("create table t (returning_at int)").returns_rows());
        assert!(!shape("create table t (x int)").returns_rows());
        assert!(!shape("-- only a comment").returns_rows());
        assert!(shape("/* c */ select 'returning'").returns_rows());
    }

    #[test]
    fn with_clauses_end_where_the_main_statement_starts() {
        let sql =
            "with a as (select 1 as x), b(y) as materialized (select x from a) select * from b";
        let s = shape(sql);
        assert!(s.with_clause);
        assert_eq!(&sql[s.main_start..], "select * from b");

        let sql = "WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n+1 FROM t WHERE n < 5) \
                   SEARCH DEPTH FIRST BY n SET ord, u AS NOT MATERIALIZED (select 2) \
                   (SELECT n FROM t)";
        let s = shape(sql);
        assert_eq!(s.keyword, "(");
        assert_eq!(&sql[s.main_start..], "(SELECT n FROM t)");

        let sql = "with gone as (delete from t where id = $1 returning id) \
                   insert into log (id) select id from gone returning id";
        let s = shape(sql);
        assert_eq!((s.keyword.as_str(), s.returning), ("insert", true));

        let sql = "with gone as (delete from t returning id) update u set x = 1 where id in (select id from gone)";
        let s = shape(sql);
        assert_eq!((s.keyword.as_str(), s.returns_rows()), ("update", false));
    }

    #[test]
    fn trailing_semicolons_and_comments_are_trimmed() {
        assert_eq!(trim_end("select 1 ; ;  -- done\n"), "select 1");
        assert_eq!(trim_end("select ';' -- x"), "select ';'");
        assert!(has_several_statements("select 1; select 2"));
        assert!(!has_several_statements("select 1;"));
    }

    #[test]
    fn error_positions_map_to_lines() {
        let text = "select 1;\nselect é;\nselect oops";
        let at = char_offset(text, 28).unwrap();
        assert_eq!(&text[at..at + 4], "oops");
        assert_eq!(line_of(text, at), 3);
        assert_eq!(char_offset(text, 0), None);
        assert_eq!(char_offset(text, 999), None);
    }

    #[test]
    fn a_script_s_own_transaction_control_is_blanked_with_offsets_kept() {
        let script = "begin;\ncreate table t (x int);\ndo $$ begin perform 1; end $$;\nCOMMIT;\n";
        let out = without_transaction_control(script);
        assert_eq!(out.len(), script.len());
        assert!(!out.to_lowercase().contains("commit"));
        assert!(out.contains("do $$ begin perform 1; end $$;"), "{out}");
        assert_eq!(
            split_statements(&out)
                .iter()
                .map(|s| s.line)
                .collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert!(matches!(
            without_transaction_control("select 1;"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
