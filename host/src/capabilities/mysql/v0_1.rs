//! `wasmon:check@0.1.0`'s `mysql`, frozen: served by the newest implementation.

use crate::runtime::HostState;
use crate::runtime::bindings::newest as new;
use crate::runtime::bindings::v0_1::wasmon::check as old;

impl old::mysql::Host for HostState {
    async fn query(
        &mut self,
        statement: String,
    ) -> Result<old::mysql::Rows, old::mysql::QueryError> {
        use new::mysql::QueryError as New;
        use old::mysql::QueryError as Old;
        match new::mysql::Host::query(self, statement).await {
            Ok(rows) => Ok(old::mysql::Rows {
                columns: rows.columns,
                values: rows.values,
            }),
            Err(New::Connect(m)) => Err(Old::Connect(m)),
            Err(New::Server(e)) => Err(Old::Server(old::mysql::ServerError {
                code: e.code,
                state: e.state,
                message: e.message,
            })),
            Err(New::Lost(m)) => Err(Old::Lost(m)),
            Err(New::NotGranted) => Err(Old::NotGranted),
        }
    }

    async fn server_cpu(&mut self) -> Result<old::mysql::CpuTimes, String> {
        let t = new::mysql::Host::server_cpu(self).await?;
        Ok(old::mysql::CpuTimes {
            user_seconds: t.user_seconds,
            system_seconds: t.system_seconds,
        })
    }
}
