//! Who is in: each responder's `ic` keeps a record in the service's presence
//! bucket (a JetStream key-value bucket whose entries age out), renewed by a
//! heartbeat and at once when what it says changes (the incident open, a
//! status update being written); every `ic` watches the bucket and tells the
//! engine who is in. A record whose heartbeat is older than
//! [`PRESENCE_TTL`](crate::core::team::PRESENCE_TTL) no longer counts, so a
//! responder whose machine died drops out by itself.

use super::Team;
use crate::app::Msg;
use crate::config::Team as TeamConfig;
use crate::core::team::{self, Presence};
use async_nats::jetstream::kv;
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How often the record is renewed.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// What this responder's record says besides their name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Doing {
    /// The incident open on their screen (its id).
    pub incident: Option<String>,
    /// Writing a status update now.
    pub typing: bool,
}

/// Runs until `stop`: keeps our record fresh from `doing`, and sends
/// `Msg::Present` with who is in whenever that changes.
pub async fn run(
    config: TeamConfig,
    service: String,
    responder: String,
    mut doing: watch::Receiver<Doing>,
    tx: mpsc::Sender<Msg>,
    mut stop: watch::Receiver<bool>,
) {
    let mut wait = super::FIRST_RETRY;
    loop {
        let Some(team) =
            super::connect_until(&config, &service, &responder, &mut stop, &mut wait).await
        else {
            return;
        };
        let store = match bucket(&team).await {
            Ok(store) => store,
            Err(e) => {
                tracing::warn!("team: presence bucket: {e}");
                if super::pause(&mut stop, &mut wait).await {
                    return;
                }
                continue;
            }
        };
        if beat(&store, &config, &responder, &mut doing, &tx, &mut stop).await {
            let _ = store.delete(team::presence_key(&responder)).await;
            return;
        }
    }
}

/// Who is in now, read once (for `ic incidents`).
pub async fn snapshot(team: &Team) -> Result<Vec<Presence>, String> {
    let store = team
        .jetstream()
        .get_key_value(team.names.presence())
        .await
        .map_err(|e| e.to_string())?;
    let mut keys = store.keys().await.map_err(|e| e.to_string())?;
    let now = crate::clock::now();
    let mut out = Vec::new();
    while let Some(Ok(key)) = keys.next().await {
        if let Ok(Some(bytes)) = store.get(&key).await
            && let Some(p) = Presence::decode(&bytes)
            && p.live(now)
        {
            out.push(p);
        }
        if out.len() >= 1000 {
            break;
        }
    }
    Ok(out)
}

/// The presence bucket, created when missing (kept in memory: presence is
/// only ever now).
async fn bucket(team: &Team) -> Result<kv::Store, String> {
    team.bucket(
        &team.names.presence(),
        "incident-commander: who is in",
        Duration::from_secs(60),
    )
    .await
    .map_err(|e| e.to_string())
}

/// Heartbeats and watches until the connection fails (`false`) or `stop` (`true`).
async fn beat(
    store: &kv::Store,
    config: &TeamConfig,
    responder: &str,
    doing: &mut watch::Receiver<Doing>,
    tx: &mpsc::Sender<Msg>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let key = team::presence_key(responder);
    let mut watch = match store.watch_all().await {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!("team: cannot watch who is in: {e}");
            return false;
        }
    };
    let mut people: BTreeMap<String, Presence> = BTreeMap::new();
    let mut told: Option<Vec<Presence>> = None;
    let mut tick = tokio::time::interval(HEARTBEAT);
    let mut failures = 0;
    loop {
        let mut put = false;
        tokio::select! {
            _ = stop.changed() => return true,
            _ = tick.tick() => put = true,
            changed = doing.changed() => {
                if changed.is_err() {
                    return true;
                }
                put = true;
            }
            entry = watch.next() => match entry {
                Some(Ok(entry)) => match entry.operation {
                    kv::Operation::Put => {
                        if let Some(p) = Presence::decode(&entry.value) {
                            people.insert(entry.key, p);
                        }
                    }
                    kv::Operation::Delete | kv::Operation::Purge => {
                        people.remove(&entry.key);
                    }
                },
                Some(Err(e)) => tracing::debug!("team: watching who is in: {e}"),
                None => return false,
            },
        }
        let now = crate::clock::now();
        if put {
            let me = {
                let d = doing.borrow();
                Presence {
                    responder: responder.to_string(),
                    incident: d.incident.clone(),
                    typing: d.typing,
                    location: config.location.clone(),
                    at: now,
                }
            };
            match store.put(&key, me.encode().into()).await {
                Ok(_) => failures = 0,
                Err(e) => {
                    tracing::debug!("team: heartbeat: {e}");
                    failures += 1;
                    if failures >= 3 {
                        return false;
                    }
                }
            }
        }
        let live: Vec<Presence> = people.values().filter(|p| p.live(now)).cloned().collect();
        if told.as_ref() != Some(&live) {
            if tx.send(Msg::Present(live.clone())).await.is_err() {
                return true;
            }
            told = Some(live);
        }
    }
}
