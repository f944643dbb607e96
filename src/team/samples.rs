//! Probe results shared between locations: this `ic`'s word on each endpoint
//! goes out on `ic.<service>.samples.<location>` (plain NATS: only the latest
//! word matters, nothing is stored), and every other location's comes in to
//! the engine, which judges `down` across them (`app::regions`).

use crate::app::Msg;
use crate::config::Team as TeamConfig;
use crate::core::team::LocationSample;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};

/// Runs until `stop`: publishes what `out` brings, and sends every other
/// location's samples to the engine as `Msg::LocationSample`.
pub async fn run(
    config: TeamConfig,
    service: String,
    responder: String,
    location: String,
    mut out: mpsc::Receiver<LocationSample>,
    tx: mpsc::Sender<Msg>,
    mut stop: watch::Receiver<bool>,
) {
    let mut wait = super::FIRST_RETRY;
    loop {
        // Meanwhile our own samples are dropped: only the latest word matters.
        while out.try_recv().is_ok() {}
        let Some(team) =
            super::connect_until(&config, &service, &responder, &mut stop, &mut wait).await
        else {
            return;
        };
        let mut incoming = match team.client.subscribe(team.names.all_samples()).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("team: cannot hear other locations: {e}");
                if super::pause(&mut stop, &mut wait).await {
                    return;
                }
                continue;
            }
        };
        let subject = team.names.samples(&location);
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                sample = out.recv() => {
                    let Some(sample) = sample else { return };
                    if let Err(e) = team.client.publish(subject.clone(), sample.encode().into()).await {
                        tracing::debug!("team: sharing a probe result: {e}");
                    }
                }
                message = incoming.next() => {
                    let Some(message) = message else { break };
                    let Some(sample) = LocationSample::decode(&message.payload) else {
                        tracing::debug!(subject = %message.subject, "team: not a probe result: skipped");
                        continue;
                    };
                    // The subject names the sender's location; a sample claiming another is not taken.
                    if message.subject.as_str() != team.names.samples(&sample.location) || sample.location == location {
                        continue;
                    }
                    if tx.send(Msg::LocationSample(sample)).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
