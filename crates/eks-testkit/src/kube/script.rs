//! The container "runtime" of the simulated kubelet: a container's `command`/`args` are read
//! as a small, documented subset of `sh -c` (see the `kube` module documentation) and run
//! against a [`Sandbox`] that stands for the container's stdout and filesystem. Anything
//! outside the subset is refused before the first statement runs, with exit code 127 and a
//! log line saying what was not understood, so a test never passes on a half-run script.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

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

    /// Reads an argv, as a container's `command` + `args` or an exec's `command`.
    pub(super) fn of_argv(argv: &[String]) -> Self {
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
    /// `test -f FILE` or `[ -f FILE ]`.
    FileExists(Word),
    /// `trap "exit N" SIGNALS`: the signals then make the shell exit with `N`.
    Trap {
        code: i32,
        signals: Vec<Signal>,
    },
    /// `kill -s SIGNAL 1` (also `kill -SIGNAL 1`, `kill -N 1`): signals the container's
    /// first process.
    Kill(Signal),
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
    /// `while true; do ...; done`: left only by `exit`, a signal or the pod's end.
    Forever(Vec<Statement>),
    /// `yes [WORDS] | head -n N`: N lines of the words (`y` without any), written at once.
    YesHead {
        words: Vec<Word>,
        lines: u64,
    },
}

/// The signals a script can trap and an exec can send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    /// `INT`, `SIGINT`, `2`, `TERM`, `SIGTERM` or `15`, in any case.
    pub(super) fn parse(name: &str) -> Option<Self> {
        let name = name.to_ascii_uppercase();
        match name.strip_prefix("SIG").unwrap_or(&name) {
            "INT" | "2" => Some(Self::Interrupt),
            "TERM" | "15" => Some(Self::Terminate),
            _ => None,
        }
    }

    /// The exit status of a shell the signal ends without a trap: 128 + its number.
    fn default_exit_code(self) -> i32 {
        match self {
            Self::Interrupt => 128 + 2,
            Self::Terminate => 128 + 15,
        }
    }
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
    /// `|`: only in `yes ... | head -n N`.
    Pipe,
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
        Some("for") | Some("until") | Some("while") => tokens,
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
                    Token::Pipe => return Err("eks-fake: unexpected `|` in `for`".to_owned()),
                }
            }
            Ok(Statement::For {
                variable: variable.clone(),
                items: expanded,
                body,
            })
        }
        [until, open, flag, Token::Word(path, _), close]
            if until.keyword() == Some("until")
                && open.keyword() == Some("[")
                && flag.keyword() == Some("-f")
                && close.keyword() == Some("]") =>
        {
            Ok(Statement::UntilFileExists {
                path: path.clone(),
                body,
            })
        }
        [until, test, flag, Token::Word(path, _)]
            if until.keyword() == Some("until")
                && test.keyword() == Some("test")
                && flag.keyword() == Some("-f") =>
        {
            Ok(Statement::UntilFileExists {
                path: path.clone(),
                body,
            })
        }
        [while_keyword, condition]
            if while_keyword.keyword() == Some("while")
                && matches!(condition.keyword(), Some("true" | ":")) =>
        {
            Ok(Statement::Forever(body))
        }
        _ => Err(
            "eks-fake: only `for VAR in $(seq A B)` / `for VAR in WORDS`, \
             `until [ -f PATH ]` and `while true` loops are supported"
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
    if tokens.contains(&Token::Pipe) {
        return yes_head(&tokens).ok_or_else(|| {
            format!(
                "eks-fake: unsupported pipeline {text:?} (the only one is `yes [TEXT] | head -n N`)"
            )
        });
    }
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
            // Pipelines are read by `yes_head` above; none reaches here.
            Token::Pipe => return Err(format!("eks-fake: unsupported pipeline {text:?}")),
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
        "test" | "[" => {
            let operands = match rest.split_last() {
                Some((close, operands))
                    if command == "[" && literal(close).as_deref() == Some("]") =>
                {
                    operands
                }
                _ if command == "[" => return Err(unsupported()),
                _ => &rest[..],
            };
            match operands {
                [flag, path] if literal(flag).as_deref() == Some("-f") => {
                    Ok(Statement::FileExists(path.clone()))
                }
                _ => Err(unsupported()),
            }
        }
        "trap" => {
            let action = rest.first().and_then(literal).ok_or_else(unsupported)?;
            let code = match action.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["exit"] => 0,
                ["exit", code] => code.parse::<i32>().map_err(|_| unsupported())? & 0xff,
                _ => return Err(unsupported()),
            };
            let signals = rest[1..]
                .iter()
                .map(|word| literal(word).as_deref().and_then(Signal::parse))
                .collect::<Option<Vec<Signal>>>()
                .filter(|signals| !signals.is_empty())
                .ok_or_else(unsupported)?;
            Ok(Statement::Trap { code, signals })
        }
        "kill" => {
            let words: Option<Vec<String>> = rest.iter().map(literal).collect();
            let words = words.ok_or_else(unsupported)?;
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let signal = match words.as_slice() {
                ["-s", signal, "1"] => Signal::parse(signal),
                [flag, "1"] => flag.strip_prefix('-').and_then(Signal::parse),
                _ => None,
            };
            signal.map(Statement::Kill).ok_or_else(unsupported)
        }
        "true" | ":" if rest.is_empty() => Ok(Statement::Nothing),
        _ => Err(unsupported()),
    }
}

/// `yes [WORDS] | head -n N` (also `head -nN`).
fn yes_head(tokens: &[Token]) -> Option<Statement> {
    let pipe = tokens.iter().position(|token| *token == Token::Pipe)?;
    let (yes, head) = (&tokens[..pipe], &tokens[pipe + 1..]);
    if yes.first()?.keyword()? != "yes" {
        return None;
    }
    let words = yes[1..]
        .iter()
        .map(|token| match token {
            Token::Word(parts, _) => Some(parts.clone()),
            _ => None,
        })
        .collect::<Option<Vec<Word>>>()?;
    let head: Vec<&str> = head.iter().map(Token::keyword).collect::<Option<_>>()?;
    let lines = match head.as_slice() {
        ["head", "-n", lines] => lines,
        ["head", flag] => flag.strip_prefix("-n")?,
        _ => return None,
    };
    Some(Statement::YesHead {
        words,
        lines: lines.parse().ok()?,
    })
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
            Token::Pipe => "|".to_owned(),
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
            '|' if chars.peek() != Some(&'|') => {
                end_word!();
                tokens.push(Token::Pipe);
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
    /// Writes to standard output (a container's log).
    fn output(&mut self, text: &str);
    /// Writes to standard error (for a container, also its log).
    fn error_output(&mut self, text: &str) {
        self.output(text);
    }
    /// Writes `count` lines of `line` to standard output; a container's log stores them as
    /// one run, however many.
    fn output_lines(&mut self, line: &str, count: u64) {
        let line = format!("{line}\n");
        for _ in 0..count {
            self.output(&line);
        }
    }
    /// Sends `signal` to the container's first process; whether it still runs.
    fn signal_first_process(&mut self, signal: Signal) -> bool;
    fn read_file(&mut self, path: &str) -> Option<String>;
    fn write_file(&mut self, path: &str, text: &str, append: bool);
    /// How long `seconds` of script time take for real (the fake's time scale).
    fn real_duration(&self, seconds: f64) -> Duration;
}

enum Flow {
    Next(i32),
    Exit(i32),
}

/// Runs `program` to its exit code; a signal from `signals` ends it at once, with the code its
/// trap gives or else 128 + the signal's number, as sh does.
pub(super) async fn run(
    program: &Program,
    sandbox: &mut dyn Sandbox,
    signals: &mut mpsc::UnboundedReceiver<Signal>,
) -> i32 {
    let statements = match program {
        Program::Unsupported(why) => {
            sandbox.error_output(&format!("{why}\n"));
            return 127;
        }
        Program::Script(statements) => statements,
    };
    let mut shell = Shell::default();
    let signal = {
        let execution = block(statements, &mut shell, sandbox);
        tokio::select! {
            // A signal that is due ends the script before it goes on.
            biased;
            // A closed channel (nobody can signal) disables this branch.
            Some(signal) = signals.recv() => signal,
            flow = execution => match flow {
                Flow::Next(status) | Flow::Exit(status) => return status,
            },
        }
    };
    shell
        .traps
        .iter()
        .rev()
        .find(|(trapped, _)| *trapped == signal)
        .map_or(signal.default_exit_code(), |(_, code)| *code)
}

type Variables = Vec<(String, String)>;

/// What a running script keeps besides its statements.
#[derive(Debug, Default)]
struct Shell {
    variables: Variables,
    /// Signal and the exit code its trap sets, latest last.
    traps: Vec<(Signal, i32)>,
}

fn block<'a>(
    statements: &'a [Statement],
    shell: &'a mut Shell,
    sandbox: &'a mut dyn Sandbox,
) -> Pin<Box<dyn Future<Output = Flow> + Send + 'a>> {
    Box::pin(async move {
        let mut status = 0;
        for statement in statements {
            match execute(statement, shell, sandbox).await {
                Flow::Next(next) => status = next,
                Flow::Exit(code) => return Flow::Exit(code),
            }
        }
        Flow::Next(status)
    })
}

async fn execute(statement: &Statement, shell: &mut Shell, sandbox: &mut dyn Sandbox) -> Flow {
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
                .map(|word| expand(word, &shell.variables))
                .collect::<Vec<_>>()
                .join(" ");
            if *newline {
                text.push('\n');
            }
            emit(sandbox, &text, redirect, &shell.variables);
            Flow::Next(0)
        }
        Statement::Printf {
            format,
            args,
            redirect,
        } => {
            let args: Vec<String> = args
                .iter()
                .map(|arg| expand(arg, &shell.variables))
                .collect();
            let text = printf(&expand(format, &shell.variables), &args);
            emit(sandbox, &text, redirect, &shell.variables);
            Flow::Next(0)
        }
        Statement::Sleep(seconds) => {
            tokio::time::sleep(sandbox.real_duration(*seconds)).await;
            Flow::Next(0)
        }
        Statement::Exit(code) => Flow::Exit(code.unwrap_or(0)),
        Statement::Cat(path) => {
            let path = expand(path, &shell.variables);
            match sandbox.read_file(&path) {
                Some(content) => {
                    sandbox.output(&content);
                    Flow::Next(0)
                }
                None => {
                    // As busybox (the `sh` of the subset's images) words it.
                    sandbox.error_output(&format!(
                        "cat: can't open '{path}': No such file or directory\n"
                    ));
                    Flow::Next(1)
                }
            }
        }
        Statement::FileExists(path) => {
            let path = expand(path, &shell.variables);
            Flow::Next(i32::from(sandbox.read_file(&path).is_none()))
        }
        Statement::Trap { code, signals } => {
            shell
                .traps
                .extend(signals.iter().map(|signal| (*signal, *code)));
            Flow::Next(0)
        }
        Statement::Kill(signal) => {
            if sandbox.signal_first_process(*signal) {
                Flow::Next(0)
            } else {
                sandbox.error_output("sh: can't kill pid 1: No such process\n");
                Flow::Next(1)
            }
        }
        Statement::Forever(body) => loop {
            if let Flow::Exit(code) = block(body, shell, sandbox).await {
                return Flow::Exit(code);
            }
            // A loop with an empty body would spin; the fake yields as a shell would not.
            tokio::task::yield_now().await;
        },
        Statement::Touch(path) => {
            let path = expand(path, &shell.variables);
            sandbox.write_file(&path, "", true);
            Flow::Next(0)
        }
        Statement::Nothing => Flow::Next(0),
        Statement::YesHead { words, lines } => {
            let text = if words.is_empty() {
                "y".to_owned()
            } else {
                words
                    .iter()
                    .map(|word| expand(word, &shell.variables))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            sandbox.output_lines(&text, *lines);
            Flow::Next(0)
        }
        Statement::For {
            variable,
            items,
            body,
        } => {
            let mut status = 0;
            for item in items {
                let value = expand(item, &shell.variables);
                shell.variables.push((variable.clone(), value));
                let flow = block(body, shell, sandbox).await;
                shell.variables.pop();
                match flow {
                    Flow::Next(next) => status = next,
                    Flow::Exit(code) => return Flow::Exit(code),
                }
            }
            Flow::Next(status)
        }
        Statement::UntilFileExists { path, body } => {
            let path = expand(path, &shell.variables);
            while sandbox.read_file(&path).is_none() {
                if let Flow::Exit(code) = block(body, shell, sandbox).await {
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
        errors: String,
        files: HashMap<String, String>,
        /// Where `kill ... 1` goes: the script's own signals, when it is first process.
        first_process: Option<mpsc::UnboundedSender<Signal>>,
    }

    impl Sandbox for Recorder {
        fn output(&mut self, text: &str) {
            self.output.push_str(text);
        }
        fn error_output(&mut self, text: &str) {
            self.errors.push_str(text);
        }
        fn signal_first_process(&mut self, signal: Signal) -> bool {
            self.first_process
                .as_ref()
                .is_some_and(|process| process.send(signal).is_ok())
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
        let (sender, mut signals) = mpsc::unbounded_channel();
        let mut recorder = Recorder {
            first_process: Some(sender),
            ..Recorder::default()
        };
        let code = run(&program, &mut recorder, &mut signals).await;
        (code, recorder)
    }

    #[tokio::test]
    async fn traps_make_signals_exit_with_their_code_and_end_endless_loops() {
        let sidecar = "trap \"exit 0\" INT; while true; do sleep 1; done;";
        let program = Program::of_container(&json!({"command": ["sh", "-c", sidecar]}));
        assert!(matches!(program, Program::Script(_)), "{program:?}");
        // A signal due before the trap is set has its default action.
        let (sender, mut signals) = mpsc::unbounded_channel();
        sender.send(Signal::Interrupt).unwrap();
        assert_eq!(
            run(&program, &mut Recorder::default(), &mut signals).await,
            130
        );
        let (code, _) =
            sh("trap \"exit 0\" INT; kill -s SIGINT 1; while true; do sleep 1; done;").await;
        assert_eq!(code, 0);

        // Without a trap (or with a trap for another signal) the signal's default: 128 + n.
        let (code, _) = sh("trap 'exit 3' TERM; kill -s SIGINT 1; while :; do sleep 1; done").await;
        assert_eq!(code, 130);
        let (code, _) =
            sh("trap 'exit 3' INT TERM; kill -15 1; while true; do sleep 1; done").await;
        assert_eq!(code, 3);
        let (code, out) =
            sh("trap 'exit 4' SIGINT; kill -INT 1; while true; do sleep 1; done; echo never").await;
        assert_eq!((code, out.output.as_str()), (4, ""));
        let (code, out) = sh("kill -9 1").await;
        assert_eq!(code, 127, "only INT and TERM: {}", out.errors);
    }

    #[tokio::test]
    async fn test_f_is_a_statement_with_a_status() {
        let (code, _) = sh("touch /a; test -f /a; [ -f /a ]; test -f /b").await;
        assert_eq!(code, 1);
        let (code, _) = sh("touch /a; [ -f /a ]").await;
        assert_eq!(code, 0);
        let (code, _) = sh("[ -f /a").await;
        assert_eq!(code, 127);
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
    async fn yes_piped_to_head_writes_n_lines() {
        let (code, out) =
            sh("for w in big; do yes \"a $w line\" | head -n 3; done; yes | head -n2; yes x | head -n 0")
                .await;
        assert_eq!(code, 0, "{}", out.errors);
        assert_eq!(out.output, "a big line\na big line\na big line\ny\ny\n");
        let program =
            Program::of_container(&json!({"command": ["sh", "-c", "yes | head -n many"]}));
        assert!(matches!(program, Program::Unsupported(_)), "{program:?}");
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
        assert_eq!(out.output, "{\"a\": 1}\n");
        assert_eq!(
            out.errors,
            "cat: can't open '/missing': No such file or directory\n"
        );
        assert_eq!(out.files["/dev/termination-log"], "boom\n");
    }

    #[tokio::test]
    async fn argv_forms_and_unsupported_statements() {
        let program = Program::of_container(&json!({"command": ["echo"], "args": ["a", ">", "b"]}));
        let mut recorder = Recorder::default();
        let mut no_signals = mpsc::unbounded_channel().1;
        assert_eq!(run(&program, &mut recorder, &mut no_signals).await, 0);
        assert_eq!(recorder.output, "a > b\n");

        let (code, out) = sh("echo ok; curl http://example.com").await;
        assert_eq!(code, 127);
        assert!(
            out.errors.contains("unsupported statement"),
            "{}",
            out.errors
        );
        assert!(out.output.is_empty(), "nothing runs: {}", out.output);
        let (code, _) = sh("echo a | grep a").await;
        assert_eq!(code, 127);
        let (code, out) = sh("yes | head -n 3 > /tmp/f").await;
        assert_eq!(code, 127, "{}", out.errors);
        let (code, _) = sh("yes a || head -n 3").await;
        assert_eq!(code, 127);
        assert_eq!(
            Program::of_container(&json!({})),
            Program::Script(Vec::new())
        );
    }
}
