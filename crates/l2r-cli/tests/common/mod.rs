//! Fixtures shared by the CLI's integration tests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

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
