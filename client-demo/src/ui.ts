/** The hearing page: header with state and judge controls, one tile per video track. */
export interface TileInfo {
  participantId: string;
  name: string;
  role: string;
}

const $ = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;

export function setStatus(text: string): void {
  $('status').textContent = text;
}

export function setHearing(title: string, state: string): void {
  $('title').textContent = title;
  document.title = title;
  const badge = $('state');
  badge.textContent = state.replace('_', ' ');
  badge.dataset.state = state;
}

export function setControls(options: readonly string[], onTransition: (to: string) => void): void {
  const box = $('controls');
  box.replaceChildren(
    ...options.map((to) => {
      const button = document.createElement('button');
      button.textContent = to.replace('_', ' ');
      button.dataset.transition = to;
      button.onclick = () => onTransition(to);
      return button;
    }),
  );
}

function tileId(participantId: string): string {
  return `tile-${participantId}`;
}

/** Shows a participant's track in its tile, creating the tile on first use. */
export function showTrack(info: TileInfo, track: MediaStreamTrack, self = false): void {
  let tile = document.getElementById(tileId(info.participantId));
  if (!tile) {
    tile = document.createElement('div');
    tile.id = tileId(info.participantId);
    tile.className = self ? 'tile self' : 'tile';
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true;
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = `${info.name} · ${info.role}`;
    tile.append(video, label);
    if (self) $('tiles').prepend(tile);
    else $('tiles').append(tile);
  }
  if (track.kind === 'video') {
    const video = tile.querySelector('video') as HTMLVideoElement;
    video.srcObject = new MediaStream([track]);
  } else if (!self) {
    const audio = document.createElement('audio');
    audio.autoplay = true;
    audio.dataset.trackId = track.id;
    audio.srcObject = new MediaStream([track]);
    tile.append(audio);
  }
}

export function removeTrack(participantId: string, track: MediaStreamTrack): void {
  const tile = document.getElementById(tileId(participantId));
  if (!tile) return;
  if (track.kind === 'video') (tile.querySelector('video') as HTMLVideoElement).srcObject = null;
  tile.querySelector(`audio[data-track-id="${CSS.escape(track.id)}"]`)?.remove();
}

export function removeTile(participantId: string): void {
  document.getElementById(tileId(participantId))?.remove();
}

export function clearRemoteTiles(): void {
  for (const tile of document.querySelectorAll('.tile:not(.self)')) tile.remove();
}

export function setSpeaker(participantId: string | null): void {
  for (const tile of document.querySelectorAll('.tile')) {
    tile.classList.toggle('speaking', participantId !== null && tile.id === tileId(participantId));
  }
}

export interface IdentityNotice {
  participantId: string;
  status: string;
  distance: number | null;
  alert?: string;
  staticImage?: boolean;
  frame?: string;
  reason: string | null;
}

/**
 * For the judge and clerk: the identity result next to the participant (status, similarity, the
 * captured frame, alerts) with admit / refuse buttons.
 */
export function showIdentity(n: IdentityNotice, onDecision: (decision: 'admit' | 'refuse') => void): void {
  const tile = document.getElementById(tileId(n.participantId));
  if (!tile) return;
  let box = tile.querySelector('.identity') as HTMLElement | null;
  if (!box) {
    box = document.createElement('div');
    box.className = 'identity';
    tile.append(box);
  }
  box.dataset.status = n.status;
  const text = document.createElement('span');
  const similarity = n.distance === null ? '' : ` · distance ${n.distance.toFixed(2)}`;
  text.textContent = `identity: ${n.status.replace('_', ' ')}${similarity}${n.alert ? ` · ALERT ${n.alert.replace('_', ' ')}` : ''}${n.staticImage ? ' · possible photo' : ''}`;
  const parts: HTMLElement[] = [text];
  if (n.frame) {
    const img = document.createElement('img');
    img.src = n.frame;
    img.alt = 'captured frame';
    parts.push(img);
  }
  for (const decision of ['admit', 'refuse'] as const) {
    const button = document.createElement('button');
    button.textContent = decision;
    button.onclick = () => onDecision(decision);
    parts.push(button);
  }
  box.replaceChildren(...parts);
}

/**
 * For a party or lawyer: a private consultation with each counterpart they may consult; while one is
 * asked for, its withdrawal (or, to the one asked, accept and decline); while one is open, its end.
 */
export function setConsultations(c: {
  options: { participantId: string; name: string }[];
  active: boolean;
  invitation?: { name: string; direction: 'asked' | 'invited' };
  onConsult: (participantId: string) => void;
  onAnswer: (accept: boolean) => void;
  onWithdraw: () => void;
  onEnd: () => void;
}): void {
  const box = document.getElementById('consult');
  if (!box) return;
  const button = (textContent: string, onclick: () => void) => Object.assign(document.createElement('button'), { textContent, onclick });
  const parts: HTMLElement[] = [];
  if (c.active) parts.push(button('end consultation', c.onEnd));
  else if (c.invitation?.direction === 'invited') {
    const note = Object.assign(document.createElement('span'), { textContent: `${c.invitation.name} asks for a private consultation` });
    note.setAttribute('role', 'status');
    parts.push(
      note,
      button(`accept consultation with ${c.invitation.name}`, () => c.onAnswer(true)),
    );
    parts.push(button(`decline consultation with ${c.invitation.name}`, () => c.onAnswer(false)));
  } else if (c.invitation) parts.push(button(`withdraw request to ${c.invitation.name}`, c.onWithdraw));
  else for (const o of c.options) parts.push(button(`consult ${o.name}`, () => c.onConsult(o.participantId)));
  box.replaceChildren(...parts);
}
