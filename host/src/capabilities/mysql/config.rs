//! The MySQL connection an instance may use: Datadog's `host`/`port` or `sock`, `user`
//! (or `username`), `pass` (or `password`) or `defaults_file`, `ssl` and `connect_timeout`,
//! validated into a [`MysqlGrant`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::Mysql;
use crate::capabilities::{Capability, Grantable};

impl Grantable for Mysql {
    const CAPABILITY: Capability = super::MYSQL;
    const SECRET_KEYS: &'static [&'static str] = &SECRET_KEYS;
    type Config = ConnectionKeys;
    type Granted = Option<MysqlGrant>;

    fn parse(keys: &ConnectionKeys) -> Result<Option<MysqlGrant>, Vec<(String, String)>> {
        MysqlGrant::parse(keys)
    }

    fn describe(granted: &Option<MysqlGrant>) -> Vec<String> {
        granted
            .iter()
            .map(|m| format!("query {}", m.display()))
            .collect()
    }
}

/// `ssl:` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SslConfig {
    /// CA certificate (PEM) the server's certificate must chain to; the system's roots otherwise.
    pub ca: Option<PathBuf>,
    /// Client certificate chain (PEM), with `key`.
    pub cert: Option<PathBuf>,
    /// Client private key (PEM), with `cert`.
    pub key: Option<PathBuf>,
    /// Whether the server's name must match its certificate (default true).
    pub check_hostname: Option<bool>,
}

/// The connection keys of an instance, as written.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConnectionKeys {
    /// Server host name or address.
    #[serde(default)]
    pub host: Option<String>,
    /// Server port (default 3306).
    #[serde(default)]
    pub port: Option<u16>,
    /// Unix socket of a local server, instead of `host`.
    #[serde(default)]
    pub sock: Option<PathBuf>,
    /// User to log in as.
    #[serde(default)]
    pub user: Option<String>,
    /// Datadog's current name for `user`.
    #[serde(default)]
    pub username: Option<String>,
    /// Password.
    #[serde(default)]
    pub pass: Option<String>,
    /// Datadog's current name for `pass`.
    #[serde(default)]
    pub password: Option<String>,
    /// A MySQL option file whose `[client]` section gives any of the above.
    #[serde(default)]
    pub defaults_file: Option<PathBuf>,
    /// TLS to the server.
    #[serde(default)]
    pub ssl: Option<SslConfig>,
    /// Seconds a connection attempt may take (default 10).
    #[serde(default)]
    pub connect_timeout: Option<f64>,
}

/// Connection keys that never reach the check. The others (`host`, `port`, `sock`, `user` or
/// `username`) do, for its tags and to tell whether the server is local.
pub const SECRET_KEYS: [&str; 5] = [
    "pass",
    "password",
    "defaults_file",
    "ssl",
    "connect_timeout",
];

/// Where the server listens.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerAddress {
    /// TCP.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// A Unix socket.
    Socket(PathBuf),
}

/// A validated MySQL connection grant.
#[derive(Clone, PartialEq)]
pub struct MysqlGrant {
    /// The server.
    pub address: ServerAddress,
    /// Login user.
    pub user: Option<String>,
    /// Login password.
    pub pass: Option<String>,
    /// TLS settings; none for a plain connection.
    pub ssl: Option<SslConfig>,
    /// Time a connection attempt may take.
    pub connect_timeout: Duration,
}

impl fmt::Debug for MysqlGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

const DEFAULT_PORT: u16 = 3306;
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl MysqlGrant {
    /// Validates the connection keys: `None` when the instance declares no server. Each
    /// problem is `(field, message)`.
    pub fn parse(keys: &ConnectionKeys) -> Result<Option<Self>, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let user = one_of(
            ("user", &keys.user),
            ("username", &keys.username),
            &mut errors,
        );
        let pass = one_of(
            ("pass", &keys.pass),
            ("password", &keys.password),
            &mut errors,
        );
        let file = match &keys.defaults_file {
            Some(path) => read_defaults_file(path).unwrap_or_else(|m| {
                errors.push(("defaults_file".into(), m));
                ClientSection::default()
            }),
            None => ClientSection::default(),
        };
        let host = keys.host.clone().or(file.host);
        let sock = keys.sock.clone().or(file.socket);
        let port = keys.port.or(file.port);
        // A socket unless the instance itself names a host.
        let address = match (sock, host) {
            (Some(sock), _) if keys.host.is_none() => Some(ServerAddress::Socket(sock)),
            (_, Some(host)) => Some(ServerAddress::Tcp {
                host,
                port: port.unwrap_or(DEFAULT_PORT),
            }),
            (_, None) => None,
        };
        let Some(address) = address else {
            let login = [&keys.user, &keys.username, &keys.pass, &keys.password];
            if login.iter().any(|k| k.is_some()) || keys.ssl.is_some() {
                errors.push((
                    "host".into(),
                    "a MySQL login is configured but no server: set `host` (and `port`) or `sock`"
                        .into(),
                ));
            }
            return if errors.is_empty() {
                Ok(None)
            } else {
                Err(errors)
            };
        };
        if let ServerAddress::Socket(sock) = &address
            && !sock.is_absolute()
        {
            errors.push(("sock".into(), format!("{sock:?} is not an absolute path")));
        }
        let connect_timeout = match keys.connect_timeout {
            None => DEFAULT_CONNECT_TIMEOUT,
            Some(t) if (0.01..=600.0).contains(&t) => Duration::from_secs_f64(t),
            Some(t) => {
                errors.push((
                    "connect_timeout".into(),
                    format!("{t}: expected seconds between 0.01 and 600"),
                ));
                DEFAULT_CONNECT_TIMEOUT
            }
        };
        if let Some(ssl) = &keys.ssl
            && ssl.cert.is_some() != ssl.key.is_some()
        {
            errors.push((
                "ssl".into(),
                "`cert` and `key` go together: set both or neither".into(),
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Some(Self {
            address,
            user: user.or(file.user),
            pass: pass.or(file.password),
            ssl: keys.ssl.clone(),
            connect_timeout,
        }))
    }

    /// Whether the server runs on this host: a socket or a loopback address.
    pub fn is_local(&self) -> bool {
        match &self.address {
            ServerAddress::Socket(_) => true,
            ServerAddress::Tcp { host, .. } => {
                matches!(host.as_str(), "localhost" | "127.0.0.1" | "::1" | "0.0.0.0")
            }
        }
    }

    /// `user@host:port` or `user@/path/to.sock`, never the password.
    pub fn display(&self) -> String {
        let user = self.user.as_deref().unwrap_or("");
        match &self.address {
            ServerAddress::Tcp { host, port } => format!("MySQL as {user}@{host}:{port}"),
            ServerAddress::Socket(sock) => format!("MySQL as {user}@{}", sock.display()),
        }
    }
}

/// The value of a key that Datadog spells two ways (`user` or `username`, `pass` or
/// `password`), each given as `(name, value)`; both at once is a problem naming both.
fn one_of(
    ours: (&str, &Option<String>),
    datadogs: (&str, &Option<String>),
    errors: &mut Vec<(String, String)>,
) -> Option<String> {
    match (ours.1, datadogs.1) {
        (Some(_), Some(_)) => {
            errors.push((
                datadogs.0.into(),
                format!(
                    "`{}` and `{}` are the same key (Datadog's two names for it): set one",
                    ours.0, datadogs.0
                ),
            ));
            None
        }
        (value, other) => value.as_ref().or(other.as_ref()).cloned(),
    }
}

/// What a MySQL option file's `[client]` section may give.
#[derive(Debug, Default)]
struct ClientSection {
    host: Option<String>,
    port: Option<u16>,
    socket: Option<PathBuf>,
    user: Option<String>,
    password: Option<String>,
}

/// Reads the `[client]` section of a MySQL option file (`my.cnf` syntax).
fn read_defaults_file(path: &Path) -> Result<ClientSection, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Option files are INI but for bare flags (`skip-ssl`) and `!include` lines, which the INI
    // parser does not know: flags get an empty value, includes are not followed.
    let text: Vec<String> = text
        .lines()
        .map(|line| {
            let t = line.trim();
            if t.starts_with('!') {
                String::new()
            } else if t.is_empty() || t.starts_with(['[', '#', ';']) || t.contains('=') {
                line.to_string()
            } else {
                format!("{t}=")
            }
        })
        .collect();
    let ini = ini::Ini::load_from_str_opt(
        &text.join("\n"),
        ini::ParseOption {
            enabled_quote: true,
            enabled_escape: false,
            ..ini::ParseOption::default()
        },
    )
    .map_err(|e| format!("{}: not a MySQL option file: {e}", path.display()))?;
    let Some(client) = ini.section(Some("client")) else {
        return Err(format!("{}: has no [client] section", path.display()));
    };
    let get = |key: &str| client.get(key).map(str::to_string);
    let port = match get("port") {
        Some(p) => Some(
            p.parse()
                .map_err(|_| format!("{}: port {p:?} is not a port number", path.display()))?,
        ),
        None => None,
    };
    Ok(ClientSection {
        host: get("host"),
        port,
        socket: get("socket").map(PathBuf::from),
        user: get("user"),
        password: get("password"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(yaml: &str) -> ConnectionKeys {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn tcp_socket_and_none() {
        let g = MysqlGrant::parse(&keys("{host: 127.0.0.1, user: dd, pass: s}"))
            .unwrap()
            .unwrap();
        assert_eq!(
            g.address,
            ServerAddress::Tcp {
                host: "127.0.0.1".into(),
                port: 3306
            }
        );
        assert!(g.is_local());
        let g = MysqlGrant::parse(&keys("{sock: /run/mysqld/mysqld.sock}"))
            .unwrap()
            .unwrap();
        assert_eq!(
            g.address,
            ServerAddress::Socket("/run/mysqld/mysqld.sock".into())
        );
        assert!(MysqlGrant::parse(&keys("{}")).unwrap().is_none());
    }

    #[test]
    fn the_password_never_shows() {
        let g = MysqlGrant::parse(&keys(
            "{host: db.example, port: 3307, user: dd, pass: hunter2}",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(format!("{g:?}"), "MySQL as dd@db.example:3307");
        assert!(!g.is_local());
    }

    #[test]
    fn datadogs_username_and_password_are_aliases() {
        let g = MysqlGrant::parse(&keys("{host: db, username: dd, password: s}"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (g.user.as_deref(), g.pass.as_deref()),
            (Some("dd"), Some("s"))
        );
        let g = MysqlGrant::parse(&keys("{host: db, user: dd, password: s}"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (g.user.as_deref(), g.pass.as_deref()),
            (Some("dd"), Some("s"))
        );
        // A login without a server is still one.
        let e = MysqlGrant::parse(&keys("{username: dd}")).unwrap_err();
        assert_eq!(e[0].0, "host");
    }

    #[test]
    fn both_spellings_of_a_key_are_an_error_naming_both() {
        let e = MysqlGrant::parse(&keys(
            "{host: db, user: a, username: b, pass: hunter2, password: hunter3}",
        ))
        .unwrap_err();
        let fields: Vec<&str> = e.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["username", "password"]);
        assert!(e[0].1.contains("`user` and `username`"), "{}", e[0].1);
        assert!(e[1].1.contains("`pass` and `password`"), "{}", e[1].1);
        assert!(!e[1].1.contains("hunter"), "{}", e[1].1);
    }

    #[test]
    fn defaults_file_fills_the_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("my.cnf");
        std::fs::write(
            &path,
            "!includedir /etc/mysql/conf.d/\n[mysqld]\nskip-networking\n[client]\nuser = monitor\npassword = \"p w\"\nhost=10.0.0.5\nport=3310\n",
        )
        .unwrap();
        let g = MysqlGrant::parse(&keys(&format!("{{defaults_file: {}}}", path.display())))
            .unwrap()
            .unwrap();
        assert_eq!(g.user.as_deref(), Some("monitor"));
        assert_eq!(g.pass.as_deref(), Some("p w"));
        assert_eq!(
            g.address,
            ServerAddress::Tcp {
                host: "10.0.0.5".into(),
                port: 3310
            }
        );
    }

    #[test]
    fn problems_name_their_field() {
        let fields = |yaml: &str| -> Vec<String> {
            MysqlGrant::parse(&keys(yaml))
                .unwrap_err()
                .into_iter()
                .map(|(f, _)| f)
                .collect()
        };
        assert_eq!(fields("{user: dd}"), ["host"]);
        assert_eq!(
            fields("{defaults_file: /nonexistent/my.cnf}"),
            ["defaults_file"]
        );
        assert_eq!(
            fields("{host: h, connect_timeout: 0, ssl: {cert: /c.pem}}"),
            ["connect_timeout", "ssl"]
        );
        assert_eq!(fields("{sock: run/x.sock}"), ["sock"]);
    }
}
