//! One pager, many detectors: every `ic` of a service detects on its own
//! data, but only the holder of the service's paging lease opens incidents,
//! writes the tool's signal records and sends notifications. The lease is a
//! key in a JetStream key-value bucket, taken with a create that fails when
//! it exists and renewed with compare-and-set updates; one whose revision has
//! not moved for [`LEASE_TTL`] (its holder died or lost the server) is taken
//! over, again by compare-and-set, so two never both hold it. Lapse is timed
//! on this machine's monotonic clock from the last revision seen to change:
//! no two clocks are compared. A holder that stops cleanly gives it up at
//! once.

use crate::app::Msg;
use crate::config::Team as TeamConfig;
use crate::core::team::Lease;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// A lease not renewed for this long has lapsed.
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How often the holder renews it (and others look at it).
const RENEW: Duration = Duration::from_secs(2);
/// The lease's key.
const KEY: &str = "pager";

/// What the lease key holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Holder {
    /// Who.
    responder: String,
    /// Which of their `ic`s (a view and an `ic watch` of one person differ).
    instance: String,
}

/// Runs until `stop`: takes, renews or watches the lease and sends
/// `Msg::Lease` whenever who holds it changes.
pub async fn run(
    config: TeamConfig,
    service: String,
    responder: String,
    tx: mpsc::Sender<Msg>,
    mut stop: watch::Receiver<bool>,
) {
    let me = Holder {
        responder: responder.clone(),
        instance: format!("{:016x}", rand::random::<u64>()),
    };
    let mut told: Option<Lease> = None;
    let mut wait = super::FIRST_RETRY;
    loop {
        let Some(team) =
            super::connect_until(&config, &service, &responder, &mut stop, &mut wait).await
        else {
            return;
        };
        let store = match team
            .bucket(
                &team.names.lease(),
                "incident-commander: who pages",
                Duration::from_secs(300),
            )
            .await
        {
            Ok(s) => s,
            Err(e) => {
                // No lease to be had: every ic pages on its own rather than none.
                tracing::warn!("team: lease bucket: {e}; this ic pages on its own");
                let nobody = Lease {
                    holder: None,
                    ours: false,
                };
                if told.as_ref() != Some(&nobody) {
                    if tx.send(Msg::Lease(nobody.clone())).await.is_err() {
                        return;
                    }
                    told = Some(nobody);
                }
                if super::pause(&mut stop, &mut wait).await {
                    return;
                }
                continue;
            }
        };
        let mut seen: Option<(u64, Instant)> = None;
        let mut tick = tokio::time::interval(RENEW);
        let mut failures = 0;
        loop {
            tokio::select! {
                _ = stop.changed() => {
                    if told.as_ref().is_some_and(|l| l.ours)
                        && let Ok(Some(e)) = store.entry(KEY).await
                    {
                        // Handed over at once: another ic takes it on its next look.
                        let _ = store.delete_expect_revision(KEY, Some(e.revision)).await;
                    }
                    return;
                }
                _ = tick.tick() => {}
            }
            let lease = match look(&store, &me, &mut seen).await {
                Ok(l) => {
                    failures = 0;
                    l
                }
                Err(e) => {
                    tracing::debug!("team: lease: {e}");
                    failures += 1;
                    if failures < 3 {
                        continue;
                    }
                    // The server is gone: nobody here knows who pages.
                    Lease {
                        holder: None,
                        ours: false,
                    }
                }
            };
            if told.as_ref() != Some(&lease) {
                if lease.ours {
                    tracing::info!("team: this ic now pages for {service}");
                }
                if tx.send(Msg::Lease(lease.clone())).await.is_err() {
                    return;
                }
                told = Some(lease);
            }
            if failures >= 3 {
                break;
            }
        }
    }
}

/// One look at the lease: take it when free or lapsed, renew it when ours.
async fn look(
    store: &async_nats::jetstream::kv::Store,
    me: &Holder,
    seen: &mut Option<(u64, Instant)>,
) -> Result<Lease, String> {
    let mine = serde_json::to_vec(me).map_err(|e| e.to_string())?;
    let entry = store.entry(KEY).await.map_err(|e| e.to_string())?;
    let live = entry
        .as_ref()
        .filter(|e| e.operation == async_nats::jetstream::kv::Operation::Put);
    let Some(entry) = live else {
        // Free: the first create wins; a loser learns the winner on its next look.
        let revision = entry.as_ref().map(|e| e.revision);
        let taken = match revision {
            None => store
                .create(KEY, mine.into())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Some(r) => store
                .update(KEY, mine.into(), r)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        if taken.is_ok() {
            return Ok(Lease {
                holder: Some(me.responder.clone()),
                ours: true,
            });
        }
        // Another ic took it first: say who.
        return Ok(Lease {
            holder: Some(holder_of(store).await),
            ours: false,
        });
    };
    let holder: Option<Holder> = serde_json::from_slice(&entry.value).ok();
    let now = Instant::now();
    if holder.as_ref() == Some(me) {
        if let Err(e) = store.update(KEY, mine.into(), entry.revision).await {
            // Taken over meanwhile (we were paused, or cut off): not ours from now.
            return match store.entry(KEY).await {
                Ok(Some(now_held)) if now_held.revision != entry.revision => Ok(Lease {
                    holder: Some(holder_of(store).await),
                    ours: false,
                }),
                _ => Err(format!("renewing: {e}")),
            };
        }
        *seen = None;
        return Ok(Lease {
            holder: Some(me.responder.clone()),
            ours: true,
        });
    }
    // Someone else's: lapsed when its revision has not moved for LEASE_TTL.
    let since = match *seen {
        Some((r, at)) if r == entry.revision => at,
        _ => {
            *seen = Some((entry.revision, now));
            now
        }
    };
    if now - since >= LEASE_TTL {
        if store.update(KEY, mine.into(), entry.revision).await.is_ok() {
            *seen = None;
            return Ok(Lease {
                holder: Some(me.responder.clone()),
                ours: true,
            });
        }
        return Ok(Lease {
            holder: Some(holder_of(store).await),
            ours: false,
        });
    }
    Ok(Lease {
        holder: Some(
            holder
                .map(|h| h.responder)
                .filter(|r| crate::responder::check(r).is_ok())
                .unwrap_or_else(|| "another ic".into()),
        ),
        ours: false,
    })
}

/// Who holds the lease now (after losing a race for it).
async fn holder_of(store: &async_nats::jetstream::kv::Store) -> String {
    match store.entry(KEY).await {
        Ok(Some(e)) => serde_json::from_slice::<Holder>(&e.value)
            .ok()
            .map(|h| h.responder)
            .filter(|r| crate::responder::check(r).is_ok())
            .unwrap_or_else(|| "another ic".into()),
        _ => "another ic".into(),
    }
}
