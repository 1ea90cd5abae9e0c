//! Fixtures shared by the CLI's integration tests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};

/// `l2r ARGS` in `dir`.
#[allow(dead_code)]
pub fn l2r(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_l2r"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// `l2r ARGS` in `dir`, which must succeed: its standard output.
#[allow(dead_code)]
pub fn ok(args: &[&str], dir: &Path) -> String {
    let out = l2r(args, dir);
    assert!(
        out.status.success(),
        "l2r {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `l2r ARGS` in `dir`, which must fail: its standard error.
#[allow(dead_code)]
pub fn refused(args: &[&str], dir: &Path) -> String {
    let out = l2r(args, dir);
    assert!(!out.status.success(), "l2r {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Two tiny user tasks (weather: sunny/rainy, food: sweet/salty) and `run.toml`, a fast continual run over
/// them with the real MiniLM.
pub fn write_tasks(dir: &Path) {
    let cities = [
        "Paris", "Lima", "Oslo", "Cairo", "Delhi", "Quito", "Rome", "Tokyo", "Accra", "Bern",
        "Hanoi", "Doha",
    ];
    let mut weather = String::from("text,label\n");
    let mut food = String::from("text,label\n");
    for (i, city) in cities.iter().enumerate() {
        weather.push_str(&format!(
            "The sky over {city} is clear and bright on day {i},sunny\n"
        ));
        weather.push_str(&format!(
            "Heavy rain keeps falling on {city} since day {i},rainy\n"
        ));
        food.push_str(&format!(
            "This cake from {city} tastes of honey and sugar number {i},sweet\n"
        ));
        food.push_str(&format!(
            "The chips sold in {city} are covered in salt batch {i},salty\n"
        ));
    }
    std::fs::write(dir.join("weather.csv"), weather).unwrap();
    std::fs::write(dir.join("food.csv"), food).unwrap();
    let config = format!(
        r#"max_len = 32
seeds = [0]
[[tasks]]
name = "weather"
path = "{0}/weather.csv"
[[tasks]]
name = "food"
path = "{0}/food.csv"
[module]
type = "adapter"
size = 8
[train]
epochs = 2
batch_size = 8
patience = 5
[memory]
per_class = 2
[router]
epochs = 3
batch_size = 4
"#,
        dir.display()
    );
    std::fs::write(dir.join("run.toml"), config).unwrap();
}

#[allow(dead_code)] // not every test binary talks HTTP
/// One HTTP/1.1 exchange on a fresh connection: (status, JSON body).
pub fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    http_with(addr, method, path, body, "")
}

/// [`http`] with extra header lines (each ending in `\r\n`).
#[allow(dead_code)]
pub fn http_with(
    addr: &str,
    method: &str,
    path: &str,
    body: &str,
    headers: &str,
) -> (u16, serde_json::Value) {
    let (status, payload) = http_text(addr, method, path, body, headers);
    // The body may be chunked; the JSON object is between the first '{' and the last '}'.
    let json = match (payload.find('{'), payload.rfind('}')) {
        (Some(a), Some(b)) => serde_json::from_str(&payload[a..=b]).unwrap(),
        _ => serde_json::Value::Null,
    };
    (status, json)
}

/// [`http_with`], the body as text: (status, body).
#[allow(dead_code)]
pub fn http_text(addr: &str, method: &str, path: &str, body: &str, headers: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status: u16 = response[9..12].parse().unwrap();
    let payload = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, payload.to_owned())
}

/// The tasks of `write_tasks` plus a third, and a library config as small as the run's.
#[allow(dead_code)]
pub fn write_library_inputs(dir: &Path) {
    write_tasks(dir);
    let mut sport = String::from("text,label\n");
    for i in 0..12 {
        sport.push_str(&format!(
            "The football team won the final match number {i},football\n"
        ));
        sport.push_str(&format!(
            "A tennis player served an ace in set number {i},tennis\n"
        ));
    }
    std::fs::write(dir.join("sport.csv"), sport).unwrap();
    std::fs::write(
        dir.join("library.toml"),
        "max_len = 32\n[module]\ntype = \"adapter\"\nsize = 8\n[train]\nepochs = 2\nbatch_size = 8\npatience = 5\n\
         [memory]\nper_class = 2\n[router]\nepochs = 3\nbatch_size = 4\n",
    )
    .unwrap();
}
