//! The container "runtime" of the simulated kubelet: a container's `command`/`args` are read
//! as a small, documented subset of `sh -c` (see the `kube` module documentation) and run
//! against a [`Sandbox`] that stands for the container's stdout and filesystem. Anything
//! outside the subset is refused before the first statement runs, with exit code 127 and a
//! log line saying what was not understood, so a test never passes on a half-run script.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;

/// What a container runs, read from its `command` and `args`.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Program {
    Script(Vec<Statement>),
    /// Not in the supported subset: why, written to the log before exiting 127.
    Unsupported(String),
}

/// The shells whose `-c SCRIPT` is read as a script.
const SHELLS: [&str; 4] = ["sh", "/bin/sh", "bash", "/bin/bash"];

impl Program {
    /// Reads `command` + `args` of a container spec.
    pub(super) fn of_container(container: &Value) -> Self {
        let strings = |field: &str| -> Vec<String> {
            container
                .get(field)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .map(|item| item.as_str().unwrap_or_default().to_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut argv = strings("command");
        argv.extend(strings("args"));
        Self::of_argv(&argv)
    }

    fn of_argv(argv: &[String]) -> Self {
        let Some(first) = argv.first() else {
            // The image's own entrypoint is unknown to the fake: it is taken to exit at once.
            return Self::Script(Vec::new());
        };
        if SHELLS.contains(&first.as_str()) {
            return match argv {
                [_, flags, script, ..] if flags.starts_with('-') && flags.contains('c') => {
                    parse(script).unwrap_or_else(Self::Unsupported)
                }
                _ => Self::Unsupported(format!(
                    "eks-fake: only `{first} -c SCRIPT` is supported, not {argv:?}"
                )),
            };
        }
        let tokens = argv
            .iter()
            .map(|arg| Token::Word(vec![Part::Literal(arg.clone())], true))
            .collect();
        match statement(tokens) {
            Ok(statement) => Self::Script(vec![statement]),
            Err(why) => Self::Unsupported(why),
        }
    }
}

/// One supported statement.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Statement {
    Echo {
        words: Vec<Word>,
        newline: bool,
        redirect: Option<Redirect>,
    },
    Printf {
        format: Word,
        args: Vec<Word>,
        redirect: Option<Redirect>,
    },
    Sleep(f64),
    Exit(Option<i32>),
    Cat(Word),
    Touch(Word),
    /// `true` or `:`.
    Nothing,
    For {
        variable: String,
        items: Vec<Word>,
        body: Vec<Statement>,
    },
    UntilFileExists {
        path: Word,
        body: Vec<Statement>,
    },
}

/// `> path` or `>> path`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Redirect {
    path: Word,
    append: bool,
}

/// A word: literal text and variables, concatenated.
pub(super) type Word = Vec<Part>;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Part {
    Literal(String),
    Variable(String),
    /// `$(...)`: only `seq A B` as a `for` list is supported.
    Command(String),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    /// The parts, and whether any of it was quoted (a quoted word is never a keyword).
    Word(Word, bool),
    Redirect {
        append: bool,
    },
}

impl Token {
    fn keyword(&self) -> Option<&str> {
        match self {
            Token::Word(parts, false) => match parts.as_slice() {
                [Part::Literal(text)] => Some(text),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Parses a script; `Err` names the first statement outside the subset.
fn parse(script: &str) -> Result<Program, String> {
    let mut statements = Vec::new();
    let mut pending = split(script)?.into_iter();
    while let Some(tokens) = pending.next() {
        statements.push(compound_or_simple(tokens, &mut pending)?);
    }
    Ok(Program::Script(statements))
}

/// Reads `for`/`until` loops, which span several `;`-separated pieces, else one statement.
fn compound_or_simple(
    tokens: Vec<Token>,
    pending: &mut impl Iterator<Item = Vec<Token>>,
) -> Result<Statement, String> {
    let header = match tokens.first().and_then(Token::keyword) {
        Some("for") | Some("until") => tokens,
        _ => return statement(tokens),
    };
    let mut body = Vec::new();
    let mut seen_do = false;
    loop {
        let Some(mut tokens) = pending.next() else {
            return Err("eks-fake: a loop is missing `do` or `done`".to_owned());
        };
        if !seen_do {
            if tokens.first().and_then(Token::keyword) != Some("do") {
                return Err("eks-fake: expected `do` after a loop header".to_owned());
            }
            tokens.remove(0);
            seen_do = true;
            if tokens.is_empty() {
                continue;
            }
        }
        if tokens.len() == 1 && tokens[0].keyword() == Some("done") {
            break;
        }
        body.push(compound_or_simple(tokens, pending)?);
    }
    let words: Vec<&Token> = header.iter().collect();
    match words.as_slice() {
        [_, Token::Word(variable, false), in_keyword, items @ ..]
            if in_keyword.keyword() == Some("in") && header[0].keyword() == Some("for") =>
        {
            let [Part::Literal(variable)] = variable.as_slice() else {
                return Err("eks-fake: a `for` variable must be a plain name".to_owned());
            };
            let mut expanded = Vec::new();
            for item in items {
                match item {
                    Token::Word(parts, _) => match parts.as_slice() {
                        [Part::Command(command)] => expanded.extend(seq(command)?),
                        _ => expanded.push(parts.clone()),
                    },
                    Token::Redirect { .. } => {
                        return Err("eks-fake: unexpected redirection in `for`".to_owned());
                    }
                }
            }
            Ok(Statement::For {
                variable: variable.clone(),
                items: expanded,
                body,
            })
        }
        [_, open, flag, Token::Word(path, _), close]
            if open.keyword() == Some("[")
                && flag.keyword() == Some("-f")
                && close.keyword() == Some("]") =>
        {
            Ok(Statement::UntilFileExists {
                path: path.clone(),
                body,
            })
        }
        [_, test, flag, Token::Word(path, _)]
            if test.keyword() == Some("test") && flag.keyword() == Some("-f") =>
        {
            Ok(Statement::UntilFileExists {
                path: path.clone(),
                body,
            })
        }
        _ => Err(
            "eks-fake: only `for VAR in $(seq A B)` / `for VAR in WORDS` and \
             `until [ -f PATH ]` loops are supported"
                .to_owned(),
        ),
    }
}

/// `seq A B` as the words `A` … `B`.
fn seq(command: &str) -> Result<Vec<Word>, String> {
    let parts: Vec<&str> = command.split_whitespace().collect();
    let number = |text: &str| text.parse::<i64>().ok();
    match parts.as_slice() {
        ["seq", last] => number(last).map(|last| (1, last)),
        ["seq", first, last] => number(first).zip(number(last)),
        _ => None,
    }
    .map(|(first, last)| {
        (first..=last)
            .map(|n| vec![Part::Literal(n.to_string())])
            .collect()
    })
    .ok_or_else(|| format!("eks-fake: unsupported command substitution $({command})"))
}

/// One simple statement from its tokens.
fn statement(tokens: Vec<Token>) -> Result<Statement, String> {
    let text = describe(&tokens);
    let mut words = Vec::new();
    let mut redirect = None;
    let mut tokens = tokens.into_iter();
    while let Some(token) = tokens.next() {
        match token {
            Token::Word(parts, _) => words.push(parts),
            Token::Redirect { append } => match tokens.next() {
                Some(Token::Word(path, _)) => redirect = Some(Redirect { path, append }),
                _ => return Err(format!("eks-fake: a redirection needs a file: {text}")),
            },
        }
    }
    let unsupported =
        || format!("eks-fake: unsupported statement {text:?} (see the supported sh subset)");
    let Some(command) = words.first().and_then(literal) else {
        return Err(unsupported());
    };
    let rest = words[1..].to_vec();
    let redirectable = matches!(command.as_str(), "echo" | "printf");
    if redirect.is_some() && !redirectable {
        return Err(unsupported());
    }
    match command.as_str() {
        "echo" => {
            let newline = rest.first().and_then(literal).as_deref() != Some("-n");
            let words = if newline { rest } else { rest[1..].to_vec() };
            Ok(Statement::Echo {
                words,
                newline,
                redirect,
            })
        }
        "printf" => match rest.split_first() {
            Some((format, args)) => Ok(Statement::Printf {
                format: format.clone(),
                args: args.to_vec(),
                redirect,
            }),
            None => Err(unsupported()),
        },
        "sleep" => match rest.as_slice() {
            [seconds] => literal(seconds)
                .and_then(|text| text.trim_end_matches('s').parse::<f64>().ok())
                .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                .map(Statement::Sleep)
                .ok_or_else(unsupported),
            _ => Err(unsupported()),
        },
        "exit" => match rest.as_slice() {
            [] => Ok(Statement::Exit(None)),
            [code] => literal(code)
                .and_then(|text| text.parse::<i32>().ok())
                .map(|code| Statement::Exit(Some(code & 0xff)))
                .ok_or_else(unsupported),
            _ => Err(unsupported()),
        },
        "cat" => match rest.as_slice() {
            [path] => Ok(Statement::Cat(path.clone())),
            _ => Err(unsupported()),
        },
        "touch" => match rest.as_slice() {
            [path] => Ok(Statement::Touch(path.clone())),
            _ => Err(unsupported()),
        },
        "true" | ":" if rest.is_empty() => Ok(Statement::Nothing),
        _ => Err(unsupported()),
    }
}

fn literal(word: &Word) -> Option<String> {
    match word.as_slice() {
        [Part::Literal(text)] => Some(text.clone()),
        [] => Some(String::new()),
        _ => None,
    }
}

/// A statement as the user wrote it, roughly, for error messages.
fn describe(tokens: &[Token]) -> String {
    let words: Vec<String> = tokens
        .iter()
        .map(|token| match token {
            Token::Word(parts, _) => parts
                .iter()
                .map(|part| match part {
                    Part::Literal(text) => text.clone(),
                    Part::Variable(name) => format!("${name}"),
                    Part::Command(command) => format!("$({command})"),
                })
                .collect(),
            Token::Redirect { append: false } => ">".to_owned(),
            Token::Redirect { append: true } => ">>".to_owned(),
        })
        .collect();
    words.join(" ")
}

/// Splits a script into statements (at `;` and newlines outside quotes), each as tokens.
fn split(script: &str) -> Result<Vec<Vec<Token>>, String> {
    let mut statements = Vec::new();
    let mut tokens: Vec<Token> = Vec::new();
    let mut word: Word = Vec::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = script.chars().peekable();

    fn push_text(word: &mut Word, c: char) {
        match word.last_mut() {
            Some(Part::Literal(text)) => text.push(c),
            _ => word.push(Part::Literal(c.to_string())),
        }
    }
    fn variable(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
        if chars.peek() == Some(&'{') {
            chars.next();
            let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
            return Some(name);
        }
        let mut name = String::new();
        while let Some(c) = chars.peek().copied() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        (!name.is_empty()).then_some(name)
    }

    macro_rules! end_word {
        () => {
            if in_word {
                tokens.push(Token::Word(std::mem::take(&mut word), quoted));
                in_word = false;
                quoted = false;
            }
        };
    }

    while let Some(c) = chars.next() {
        match c {
            ';' | '\n' => {
                end_word!();
                if !tokens.is_empty() {
                    statements.push(std::mem::take(&mut tokens));
                }
            }
            '#' if !in_word => {
                for next in chars.by_ref() {
                    if next == '\n' {
                        break;
                    }
                }
                end_word!();
                if !tokens.is_empty() {
                    statements.push(std::mem::take(&mut tokens));
                }
            }
            ' ' | '\t' | '\r' => end_word!(),
            '>' => {
                end_word!();
                let append = chars.peek() == Some(&'>');
                if append {
                    chars.next();
                }
                tokens.push(Token::Redirect { append });
            }
            '&' | '|' | '<' | '`' | '(' | ')' => {
                return Err(format!(
                    "eks-fake: {c:?} is outside the supported sh subset (in {script:?})"
                ));
            }
            '\'' => {
                in_word = true;
                quoted = true;
                let mut closed = false;
                for next in chars.by_ref() {
                    if next == '\'' {
                        closed = true;
                        break;
                    }
                    push_text(&mut word, next);
                }
                if !closed {
                    return Err("eks-fake: unterminated single quote".to_owned());
                }
                // An empty '' is still a word.
                if word.is_empty() {
                    word.push(Part::Literal(String::new()));
                }
            }
            '"' => {
                in_word = true;
                quoted = true;
                let mut closed = false;
                while let Some(next) = chars.next() {
                    match next {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.peek().copied() {
                            Some(escaped @ ('"' | '\\' | '$' | '`')) => {
                                chars.next();
                                push_text(&mut word, escaped);
                            }
                            _ => push_text(&mut word, '\\'),
                        },
                        '$' => match variable(&mut chars) {
                            Some(name) => word.push(Part::Variable(name)),
                            None => push_text(&mut word, '$'),
                        },
                        '`' => return Err("eks-fake: backquotes are not supported".to_owned()),
                        other => push_text(&mut word, other),
                    }
                }
                if !closed {
                    return Err("eks-fake: unterminated double quote".to_owned());
                }
                if word.is_empty() {
                    word.push(Part::Literal(String::new()));
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(escaped) => push_text(&mut word, escaped),
                }
            }
            '$' if chars.peek() == Some(&'(') => {
                chars.next();
                let command: String = chars.by_ref().take_while(|c| *c != ')').collect();
                in_word = true;
                word.push(Part::Command(command));
            }
            '$' => {
                in_word = true;
                match variable(&mut chars) {
                    Some(name) => word.push(Part::Variable(name)),
                    None => push_text(&mut word, '$'),
                }
            }
            other => {
                in_word = true;
                push_text(&mut word, other);
            }
        }
    }
    if in_word {
        tokens.push(Token::Word(word, quoted));
    }
    if !tokens.is_empty() {
        statements.push(tokens);
    }
    Ok(statements)
}

/// What a running script can touch: its output and the pod's files.
pub(super) trait Sandbox: Send {
    /// Writes to the container's stdout/stderr (both go to its log).
    fn output(&mut self, text: &str);
    fn read_file(&mut self, path: &str) -> Option<String>;
    fn write_file(&mut self, path: &str, text: &str, append: bool);
    /// How long `seconds` of script time take for real (the fake's time scale).
    fn real_duration(&self, seconds: f64) -> Duration;
}

enum Flow {
    Next(i32),
    Exit(i32),
}

/// Runs `program` to its exit code.
pub(super) async fn run(program: &Program, sandbox: &mut dyn Sandbox) -> i32 {
    match program {
        Program::Unsupported(why) => {
            sandbox.output(&format!("{why}\n"));
            127
        }
        Program::Script(statements) => match block(statements, &mut Vec::new(), sandbox).await {
            Flow::Next(status) | Flow::Exit(status) => status,
        },
    }
}

type Variables = Vec<(String, String)>;

fn block<'a>(
    statements: &'a [Statement],
    variables: &'a mut Variables,
    sandbox: &'a mut dyn Sandbox,
) -> Pin<Box<dyn Future<Output = Flow> + Send + 'a>> {
    Box::pin(async move {
        let mut status = 0;
        for statement in statements {
            match execute(statement, variables, sandbox).await {
                Flow::Next(next) => status = next,
                Flow::Exit(code) => return Flow::Exit(code),
            }
        }
        Flow::Next(status)
    })
}

async fn execute(
    statement: &Statement,
    variables: &mut Variables,
    sandbox: &mut dyn Sandbox,
) -> Flow {
    let expand = |word: &Word, variables: &Variables| -> String {
        word.iter()
            .map(|part| match part {
                Part::Literal(text) => text.clone(),
                Part::Variable(name) => variables
                    .iter()
                    .rev()
                    .find(|(variable, _)| variable == name)
                    .map(|(_, value)| value.clone())
                    .unwrap_or_default(),
                Part::Command(_) => String::new(),
            })
            .collect()
    };
    let emit =
        |sandbox: &mut dyn Sandbox, text: &str, redirect: &Option<Redirect>, vars: &Variables| {
            match redirect {
                Some(Redirect { path, append }) => {
                    sandbox.write_file(&expand(path, vars), text, *append)
                }
                None => sandbox.output(text),
            }
        };
    match statement {
        Statement::Echo {
            words,
            newline,
            redirect,
        } => {
            let mut text: String = words
                .iter()
                .map(|word| expand(word, variables))
                .collect::<Vec<_>>()
                .join(" ");
            if *newline {
                text.push('\n');
            }
            emit(sandbox, &text, redirect, variables);
            Flow::Next(0)
        }
        Statement::Printf {
            format,
            args,
            redirect,
        } => {
            let args: Vec<String> = args.iter().map(|arg| expand(arg, variables)).collect();
            let text = printf(&expand(format, variables), &args);
            emit(sandbox, &text, redirect, variables);
            Flow::Next(0)
        }
        Statement::Sleep(seconds) => {
            tokio::time::sleep(sandbox.real_duration(*seconds)).await;
            Flow::Next(0)
        }
        Statement::Exit(code) => Flow::Exit(code.unwrap_or(0)),
        Statement::Cat(path) => {
            let path = expand(path, variables);
            match sandbox.read_file(&path) {
                Some(content) => {
                    sandbox.output(&content);
                    Flow::Next(0)
                }
                None => {
                    sandbox.output(&format!("cat: {path}: No such file or directory\n"));
                    Flow::Next(1)
                }
            }
        }
        Statement::Touch(path) => {
            let path = expand(path, variables);
            sandbox.write_file(&path, "", true);
            Flow::Next(0)
        }
        Statement::Nothing => Flow::Next(0),
        Statement::For {
            variable,
            items,
            body,
        } => {
            let mut status = 0;
            for item in items {
                let value = expand(item, variables);
                variables.push((variable.clone(), value));
                let flow = block(body, variables, sandbox).await;
                variables.pop();
                match flow {
                    Flow::Next(next) => status = next,
                    Flow::Exit(code) => return Flow::Exit(code),
                }
            }
            Flow::Next(status)
        }
        Statement::UntilFileExists { path, body } => {
            let path = expand(path, variables);
            while sandbox.read_file(&path).is_none() {
                if let Flow::Exit(code) = block(body, variables, sandbox).await {
                    return Flow::Exit(code);
                }
                // A loop with an empty body would spin; the fake yields as a shell would not.
                tokio::task::yield_now().await;
            }
            Flow::Next(0)
        }
    }
}

/// `printf FORMAT ARGS`: `%s`, `%d`, `%%` and the escapes `\n`, `\t`, `\\`; the format is
/// reused while arguments remain, as in sh.
fn printf(format: &str, args: &[String]) -> String {
    let mut output = String::new();
    let mut next_arg = 0;
    loop {
        let mut used = false;
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek().copied()) {
                ('\\', Some('n')) => {
                    chars.next();
                    output.push('\n');
                }
                ('\\', Some('t')) => {
                    chars.next();
                    output.push('\t');
                }
                ('\\', Some('\\')) => {
                    chars.next();
                    output.push('\\');
                }
                ('%', Some('%')) => {
                    chars.next();
                    output.push('%');
                }
                ('%', Some(conversion @ ('s' | 'd'))) => {
                    chars.next();
                    used = true;
                    let arg = args.get(next_arg).map(String::as_str).unwrap_or_default();
                    next_arg += 1;
                    if conversion == 's' {
                        output.push_str(arg);
                    } else {
                        output.push_str(&arg.trim().parse::<i64>().unwrap_or(0).to_string());
                    }
                }
                (other, _) => output.push(other),
            }
        }
        if !used || next_arg >= args.len() {
            return output;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    #[derive(Default)]
    struct Recorder {
        output: String,
        files: HashMap<String, String>,
    }

    impl Sandbox for Recorder {
        fn output(&mut self, text: &str) {
            self.output.push_str(text);
        }
        fn read_file(&mut self, path: &str) -> Option<String> {
            self.files.get(path).cloned()
        }
        fn write_file(&mut self, path: &str, text: &str, append: bool) {
            let file = self.files.entry(path.to_owned()).or_default();
            if !append {
                file.clear();
            }
            file.push_str(text);
        }
        fn real_duration(&self, _seconds: f64) -> Duration {
            Duration::ZERO
        }
    }

    async fn sh(script: &str) -> (i32, Recorder) {
        let program = Program::of_container(&json!({"command": ["sh", "-c", script]}));
        let mut recorder = Recorder::default();
        let code = run(&program, &mut recorder).await;
        (code, recorder)
    }

    #[tokio::test]
    async fn echo_printf_loops_and_exit() {
        let (code, out) = sh("echo hello 'big   world'; printf '%s=%d\\n' a 1 b 2\n\
             for i in $(seq 1 3); do echo \"line $i\"; done; exit 3; echo never")
        .await;
        assert_eq!(code, 3);
        assert_eq!(
            out.output,
            "hello big   world\na=1\nb=2\nline 1\nline 2\nline 3\n"
        );
    }

    #[tokio::test]
    async fn files_redirects_cat_and_until() {
        let (code, out) = sh(
            "echo '{\"a\": 1}' > /airflow/xcom/return.json; cat /airflow/xcom/return.json; \
             touch /airflow/xcom/.done; until [ -f /airflow/xcom/.done ]; do sleep 1; done; \
             echo boom > /dev/termination-log; cat /missing",
        )
        .await;
        assert_eq!(code, 1);
        assert_eq!(
            out.output,
            "{\"a\": 1}\ncat: /missing: No such file or directory\n"
        );
        assert_eq!(out.files["/dev/termination-log"], "boom\n");
    }

    #[tokio::test]
    async fn argv_forms_and_unsupported_statements() {
        let program = Program::of_container(&json!({"command": ["echo"], "args": ["a", ">", "b"]}));
        let mut recorder = Recorder::default();
        assert_eq!(run(&program, &mut recorder).await, 0);
        assert_eq!(recorder.output, "a > b\n");

        let (code, out) = sh("echo ok; curl http://example.com").await;
        assert_eq!(code, 127);
        assert!(
            out.output.contains("unsupported statement"),
            "{}",
            out.output
        );
        assert!(!out.output.contains("ok\n"), "nothing runs: {}", out.output);
        let (code, _) = sh("echo a | grep a").await;
        assert_eq!(code, 127);
        assert_eq!(
            Program::of_container(&json!({})),
            Program::Script(Vec::new())
        );
    }
}
