import { useApp } from './store.ts';
import { Header, ReconnectBanner } from './panels/header.tsx';
import { DeviceCheck } from './panels/devices.tsx';
import { Listening, Tiles } from './panels/tiles.tsx';
import { MediaControls } from './panels/controls.tsx';
import { Alerts, CourtControls, Participants } from './panels/court.tsx';
import { Waiting } from './panels/waiting.tsx';
import { IdentityReview } from './panels/identity.tsx';
import { Consultations } from './panels/consult.tsx';
import { Transcript } from './panels/transcript.tsx';
import { EvidencePanel } from './panels/evidence.tsx';
import { SigningPanel } from './panels/signing.tsx';
import { BenchMedia } from './panels/bench.tsx';

/** The whole page: the device check first, then the hearing with the panels the role has. */
export function App() {
  const s = useApp();
  return (
    <>
      <Header />
      <ReconnectBanner />
      {s.phase === 'devices' ? (
        <main class="single">
          <DeviceCheck />
        </main>
      ) : (
        <main class="hearing">
          <div class="stage">
            <Waiting />
            <Tiles />
            <MediaControls />
            <Listening />
            <Consultations />
          </div>
          <aside class="side">
            <CourtControls />
            <Alerts />
            <BenchMedia />
            <IdentityReview />
            <Transcript />
            <SigningPanel />
            <EvidencePanel />
            <Participants />
          </aside>
        </main>
      )}
    </>
  );
}
