import { createApp } from "vue";
import AuthGate from "./components/AuthGate.vue";
import "./style.css";
import "./review.css";
import "./bias.css";
import "./auth.css";

createApp(AuthGate).mount("#app");
