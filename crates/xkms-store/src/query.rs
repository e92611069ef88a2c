//! A backend-neutral statement: SQL text with `$n` placeholders and its bound values.
//!
//! The shared store code builds a [`Query`] once; each backend executes it with its own
//! driver (sqlx on PostgreSQL, rusqlite for SQLite reads) and hands every result row to
//! the same decoder through [`ColumnReader`](crate::rows::ColumnReader).

use std::borrow::Cow;

/// A value bound to a placeholder. Every variant carries its column type, also for
/// NULL, so that PostgreSQL can type the parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Value {
        Value::Int(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(Some(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(Some(v.to_owned()))
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Value {
        Value::Text(v.map(str::to_owned))
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Blob(Some(v))
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Blob(Some(v.to_vec()))
    }
}
impl From<Option<&[u8]>> for Value {
    fn from(v: Option<&[u8]>) -> Value {
        Value::Blob(v.map(<[u8]>::to_vec))
    }
}

/// SQL text (placeholders `$1`, `$2`, … numbered in bind order) and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    pub(crate) sql: Cow<'static, str>,
    pub(crate) binds: Vec<Value>,
}

impl Query {
    pub(crate) fn new(sql: impl Into<Cow<'static, str>>) -> Query {
        Query {
            sql: sql.into(),
            binds: Vec::new(),
        }
    }

    /// Binds the next placeholder (`$1` first).
    pub(crate) fn bind(mut self, value: impl Into<Value>) -> Query {
        self.binds.push(value.into());
        self
    }

    /// Appends SQL text.
    pub(crate) fn push(&mut self, sql: &str) -> &mut Query {
        self.sql.to_mut().push_str(sql);
        self
    }

    /// Appends the placeholder of a new bound value.
    pub(crate) fn push_bind(&mut self, value: impl Into<Value>) -> &mut Query {
        self.binds.push(value.into());
        let n = self.binds.len();
        self.sql.to_mut().push_str(&format!("${n}"));
        self
    }
}

/// Bound placeholder `name` (`$n`, 1-based) of `binds`.
pub(crate) fn placeholder<'v>(binds: &'v [Value], name: &str) -> Option<&'v Value> {
    let n: usize = name.strip_prefix('$')?.parse().ok()?;
    binds.get(n.checked_sub(1)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_bind_order() {
        let mut q = Query::new("SELECT 1 WHERE a = ");
        q.push_bind("x").push(" AND b = ").push_bind(7_i64);
        assert_eq!(q.sql, "SELECT 1 WHERE a = $1 AND b = $2");
        assert_eq!(placeholder(&q.binds, "$2"), Some(&Value::Int(Some(7))));
        assert_eq!(placeholder(&q.binds, "$3"), None);
        assert_eq!(placeholder(&q.binds, "$0"), None);
        assert_eq!(placeholder(&q.binds, "?1"), None);
    }
}
